#!/usr/bin/env bash
# User networking and the host's loopback (docs/config.md): by default the
# guest cannot reach a service listening on the host's 127.0.0.1 through
# slirp's 10.0.2.2, while hostfwd (inbound) still works; with
# host-loopback=1 on the vif it can.
. "$(dirname "$0")/lib/common.sh"
require_vm
cd "$WORK"
"$PY" - <<'PY'
import console, guestnet, functools, http.server, os, threading, time, urllib.request
from console import Failure

def fetch(vm, port):
    return vm.run("for i in 1 2; do wget -q -T 5 -O - http://10.0.2.2:%d/token.txt "
                  "&& break; sleep 1; done" % port, timeout=60, check=False)

def test():
    tok = console.token("lo")
    os.mkdir("www")
    with open("www/token.txt", "w") as f:
        f.write(tok + "\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="www")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        # default: no way in to the host's loopback; hostfwd still works
        fwd = console.free_port()
        vm = console.open_vm(["--net", "type=user,hostfwd=tcp:127.0.0.1:%d-:8080" % fwd],
                             log="default.log")
        vm.boot()
        guestnet.wait_for_dhcp(vm)
        out = fetch(vm, port)
        if tok in out:
            raise Failure("the guest reached the host's 127.0.0.1:%d without host-loopback=1" % port)
        print("default: guest wget 10.0.2.2:%d refused: %s" % (port, out.strip().splitlines()[-1]))
        ftok = console.token("fwd")
        vm.run("{ (while true; do printf 'HTTP/1.0 200 OK\\r\\n\\r\\n%s\\n' | nc -l -p 8080; "
               "done) >/dev/null 2>&1 & }" % ftok)
        deadline, last = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/" % fwd, timeout=10) as r:
                    if ftok in r.read().decode("utf-8", "replace"):
                        break
            except Exception as e:
                last = repr(e)
            time.sleep(1)
        else:
            raise Failure("hostfwd inbound no longer works: %s" % last)
        print("default: hostfwd inbound works")
        vm.close()

        # host-loopback=1: 10.0.2.2 is the host's loopback
        vm = console.open_vm(["--net", "type=user,host-loopback=1"], log="allowed.log")
        vm.boot()
        guestnet.wait_for_dhcp(vm)
        out = fetch(vm, port)
        if tok not in out:
            raise Failure("with host-loopback=1 guest wget printed %r, want %s" % (out.strip(), tok))
        print("host-loopback=1: the guest fetched the token from 127.0.0.1:%d" % port)
        vm.close()
    finally:
        srv.shutdown()

console.main(test)
PY
