#!/usr/bin/env bash
# hostfwd: --net "type=user,hostfwd=tcp:127.0.0.1:PORT-:8080" forwards a host
# port to a server the guest runs on 8080; the host fetches a token from it.
. "$(dirname "$0")/lib/common.sh"
require_vm
cd "$WORK"
"$PY" - <<'PY'
import console, guestnet, time, urllib.request
from console import Failure, Skip

def test():
    tok = console.token("fwd")
    port = console.free_port()
    vm = console.open_vm(["--net", "type=user,hostfwd=tcp:127.0.0.1:%d-:8080" % port],
                         log="console.log")
    vm.boot()
    guestnet.wait_for_dhcp(vm)
    if guestnet.has_applet(vm, "httpd"):
        vm.run("mkdir -p /tmp/www && echo %s > /tmp/www/token.txt && "
               "httpd -p 8080 -h /tmp/www" % tok)
        server = "busybox httpd"
    elif guestnet.has_applet(vm, "nc"):
        vm.run("{ (while true; do printf 'HTTP/1.0 200 OK\\r\\n\\r\\n%s\\n' | nc -l -p 8080; "
               "done) >/dev/null 2>&1 & }" % tok)
        server = "busybox nc"
    else:
        raise Failure("guest busybox has neither httpd nor nc (the default guest is the project's own)")
    url = "http://127.0.0.1:%d/token.txt" % port
    deadline = time.monotonic() + 60
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=15) as r:
                body = r.read().decode("utf-8", "replace")
            if tok in body:
                print("host fetched the token from the guest's %s via %s" % (server, url))
                return
            last = "body %r" % body
        except Exception as e:       # connection refused until the server is up
            last = repr(e)
        time.sleep(1)
    raise Failure("could not fetch the token from %s: %s" % (url, last))

console.main(test)
PY
