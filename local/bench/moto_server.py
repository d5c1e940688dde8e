"""moto's standalone server for the copy worker's benchmark (local/bench/worker.sh), with the one
fix the AWS SDK for Rust needs from the sandbox's patches: ListParts' root element
(`ListPartsResult`; moto writes `ListPartsResponse`). No authorization: a benchmark measures
copying, not policies."""

import sys

from moto.server import main

from sandbox import patches

patches.install_list_parts_root()
sys.exit(main(sys.argv[1:]))
