#!/usr/bin/env bash
# net: with user networking the guest gets 10.0.2.15 by DHCP and fetches a
# file from an HTTP server on the host's 127.0.0.1 through 10.0.2.2, which
# the vif allows with host-loopback=1 (82-slirp-loopback: not without it).
. "$(dirname "$0")/lib/common.sh"
require_vm
cd "$WORK"
"$PY" - <<'PY'
import console, guestnet, functools, http.server, os, threading
from console import Failure, Skip

def test():
    tok = console.token("net")
    os.mkdir("www")
    with open("www/token.txt", "w") as f:
        f.write(tok + "\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="www")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        vm = console.open_vm(["--net", "type=user,host-loopback=1"], log="console.log")
        vm.boot()
        if not guestnet.has_applet(vm, "wget"):
            raise Failure("guest busybox has no wget applet (the default guest is the project's own)")
        guestnet.wait_for_dhcp(vm)
        out = vm.run("for i in 1 2 3; do wget -q -T 10 -O - http://10.0.2.2:%d/token.txt "
                     "&& break; sleep 2; done" % port, timeout=120, check=False)
        if tok not in out:
            raise Failure("guest wget printed %r, want the token %s" % (out.strip(), tok))
        print("guest fetched the token from the host (port %d)" % port)
    finally:
        srv.shutdown()

console.main(test)
PY
