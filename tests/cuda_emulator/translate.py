"""Rewrites a .cu file of cuda/ as C++ for the emulator: kernel launches
(kernel<<<grid, block[, shared]>>>(args)) become tacit_emu::launch calls,
dynamic shared memory a pointer into the emulator's buffer, static shared
variables function statics (blocks run one after another)."""
import re
import sys


def split_top_level(text):
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "(<[{":
            depth += 1
        elif ch in ")>]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def translate(source):
    source = re.sub(r"extern __shared__ (\w+) (\w+)\[\];",
                    r"\1 *\2 = reinterpret_cast<\1 *>(tacit_emu::shared_memory);", source)
    source = source.replace("__shared__", "static")
    out, i = [], 0
    while True:
        j = source.find("<<<", i)
        if j < 0:
            out.append(source[i:])
            break
        # The kernel expression before <<<: an identifier, maybe with <template args>.
        k = j
        if source[k - 1] == ">":
            depth = 0
            while True:
                k -= 1
                if source[k] == ">":
                    depth += 1
                elif source[k] == "<":
                    depth -= 1
                    if depth == 0:
                        break
        while k > 0 and (source[k - 1].isalnum() or source[k - 1] in "_:"):
            k -= 1
        kernel = source[k:j]
        end_config = source.index(">>>", j)
        config = split_top_level(source[j + 3:end_config])
        if len(config) == 2:
            config.append("0")
        assert source[end_config + 3] == "(", source[j:end_config + 10]
        depth, m = 0, end_config + 3
        while True:
            if source[m] == "(":
                depth += 1
            elif source[m] == ")":
                depth -= 1
                if depth == 0:
                    break
            m += 1
        args = source[end_config + 4:m]
        out.append(source[i:k])
        out.append(f"tacit_emu::launch({config[0]}, {config[1]}, {config[2]}, {kernel}{', ' if args.strip() else ''}{args})")
        i = m + 1
    return "".join(out)


sys.stdout.write(translate(open(sys.argv[1]).read()))
