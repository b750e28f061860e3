#!/usr/bin/env python3
"""Embed the browser face's files in C: web_embed.py OUT.c FILE...
Each file becomes a byte array in a table of struct web_asset
(web_assets.h): its name, content type, bytes and an entity tag (a hash
of the bytes, so a new binary's files are never taken from a cache)."""
import hashlib
import os
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


def main():
    out, files = sys.argv[1], sys.argv[2:]
    arrays, rows = [], []
    for k, path in enumerate(files):
        name = os.path.basename(path)
        ext = os.path.splitext(name)[1]
        if ext not in TYPES:
            sys.exit("web_embed.py: %s: no content type for '%s'" % (path, ext))
        data = open(path, "rb").read()
        body = ",\n".join(
            "    " + ", ".join("0x%02x" % b for b in data[j:j + 16])
            for j in range(0, len(data), 16))
        arrays.append("static const unsigned char asset%d[] = {\n%s\n};\n"
                      % (k, body or "    0x00"))
        tag = hashlib.sha256(data).hexdigest()[:16]
        rows.append('    { "%s", "%s", asset%d, %d, "\\"%s\\"" },'
                    % (name, TYPES[ext], k, len(data), tag))
    with open(out, "w") as f:
        f.write("/* Generated from sim/control/web/ by "
                "sim/control/web_embed.py: do not edit. */\n")
        f.write('#include "sim/control/web_assets.h"\n\n')
        f.write("\n".join(arrays))
        f.write("\nconst struct web_asset web_assets[] = {\n%s\n};\n"
                % "\n".join(rows))
        f.write("const unsigned web_asset_count = %d;\n" % len(files))


if __name__ == "__main__":
    main()
