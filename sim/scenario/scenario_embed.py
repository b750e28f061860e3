#!/usr/bin/env python3
"""Embed a Lua source file in C: scenario_embed.py IN.lua OUT.h NAME.
The text becomes a NUL-terminated char array (an initializer list, not a
string literal: ISO C caps those at 4095 characters)."""
import sys


def main():
    src, out, name = sys.argv[1:4]
    data = open(src, "rb").read()
    lines = []
    for k in range(0, len(data), 16):
        lines.append("    " + ", ".join("0x%02x" % b for b in data[k:k + 16]) + ",")
    with open(out, "w") as f:
        f.write("/* Generated from %s by sim/scenario/scenario_embed.py: do not edit. */\n"
                % src.split("/")[-1])
        f.write("static const unsigned char %s[] = {\n%s\n    0x00\n};\n"
                % (name, "\n".join(lines)))


if __name__ == "__main__":
    main()
