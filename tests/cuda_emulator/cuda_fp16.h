// CPU stand-ins for CUDA's half type (round to nearest even), for the emulator.
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>

struct __half {
  uint16_t bits;
};

inline float __half2float(__half h) {
  const uint32_t sign = (uint32_t)(h.bits & 0x8000u) << 16;
  uint32_t exponent = (h.bits >> 10) & 0x1f, mantissa = h.bits & 0x3ffu;
  float value;
  if (exponent == 0) {
    value = std::ldexp((float)mantissa, -24);
  } else if (exponent == 31) {
    value = mantissa ? NAN : INFINITY;
  } else {
    value = std::ldexp((float)(mantissa | 0x400u), (int)exponent - 25);
  }
  uint32_t out;
  std::memcpy(&out, &value, 4);
  out |= sign;
  std::memcpy(&value, &out, 4);
  return value;
}

inline __half __float2half_rn(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  float a = std::fabs(f);
  if (std::isnan(f)) return {(uint16_t)(sign | 0x7e00u)};
  if (a >= 65520.0f) return {(uint16_t)(sign | 0x7c00u)};
  if (a < std::ldexp(1.0f, -24) * 0.5f) return {sign};
  int e;
  std::frexp(a, &e);  // a = m · 2^e, m in [0.5, 1)
  int exponent = e - 1 + 15;
  if (exponent <= 0) {  // subnormal: units of 2^-24
    float units = std::nearbyint(std::ldexp(a, 24));
    return {(uint16_t)(sign | (uint16_t)units)};
  }
  float units = std::nearbyint(std::ldexp(a, 10 - (e - 1)));  // in [1024, 2048]
  uint32_t m = (uint32_t)units;
  if (m == 2048) { m = 1024; ++exponent; }
  if (exponent >= 31) return {(uint16_t)(sign | 0x7c00u)};
  return {(uint16_t)(sign | (exponent << 10) | (m & 0x3ffu))};
}
