#!/usr/bin/env python3
"""Prints an image's compressed size: what a registry stores and a pull moves.

    deploy/images/compressed-size.py IMAGE      (bytes on stdout)

Each layer of `docker save` is gzipped as `docker push` does (deflate level 6) and the sizes are
summed with the image configuration's, as a registry manifest lists them. Works with the legacy
save format (Docker 20.10: <id>/layer.tar) and the OCI one (Docker 25 and later: blobs/sha256/).
"""
import json
import subprocess
import sys
import tarfile
import tempfile
import zlib


def gzip_size(stream):
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip framing
    size = 0
    while chunk := stream.read(1 << 20):
        size += len(compressor.compress(chunk))
    return size + len(compressor.flush())


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with tempfile.NamedTemporaryFile(suffix=".tar") as saved:
        subprocess.run(["docker", "save", "-o", saved.name, sys.argv[1]], check=True)
        with tarfile.open(saved.name) as archive:
            manifest = json.load(archive.extractfile("manifest.json"))[0]
            total = archive.getmember(manifest["Config"]).size
            for layer in manifest["Layers"]:
                total += gzip_size(archive.extractfile(layer))
    print(total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
