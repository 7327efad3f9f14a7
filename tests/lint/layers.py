#!/usr/bin/env python3
"""The include rule of docs/architecture.md: a layer includes only itself
and the layers below it. Reads every #include "..." under src/ and prints
one line per violation (file:line: message); exit status 1 if any.

    common  <  backend  <  hw  <  engine  <  vmm
    common  <  xend;  xeno (include/xeno, the public API)  <  lib, xm

Within engine/, one engine never includes another: engine/emu and
engine/kvm see engine/engine.h and their own files only.

Some headers are out of bounds for a layer although their layer is below
it (FORBIDDEN): each such rule gives its reason."""
import os
import re
import sys

ALLOWED = {
    'common': {'common'},
    'backend': {'common', 'backend'},
    'hw': {'common', 'backend', 'hw'},
    'engine': {'common', 'backend', 'hw', 'engine'},
    'vmm': {'common', 'backend', 'hw', 'engine', 'vmm'},
    'xend': {'common', 'xeno', 'xend'},
    'lib': {'common', 'xeno', 'lib'},
    'xm': {'common', 'xeno', 'xm'},
}
# (layer, header it may not include, why)
FORBIDDEN = [
    ('hw', 'common/config.h',
     'device models take opened backends and their own parameters; '
     'the board reads the domain configuration'),
]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(rel):
    """'engine/emu/hart.h' -> ('engine', 'engine/emu')"""
    parts = rel.split('/')
    return parts[0], '/'.join(parts[:2]) if len(parts) > 2 else parts[0]


def main(root):
    src = os.path.join(root, 'src')
    bad = 0
    checked = 0
    for dirpath, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith(('.c', '.h')):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src)
            layer, unit = layer_of(rel)
            if layer not in ALLOWED:
                print(f'src/{rel}:1: directory src/{layer} has no place in the layer rule')
                bad += 1
                continue
            with open(path, encoding='utf-8') as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    checked += 1
                    target = m.group(1)
                    if target.startswith('.'):
                        target = os.path.normpath(os.path.join(os.path.dirname(rel), target))
                    elif '/' not in target:
                        continue        # a file beside this one
                    tl, tunit = layer_of(target)
                    why = [w for (fl, fh, w) in FORBIDDEN if fl == layer and fh == target]
                    if why:
                        print(f'src/{rel}:{lineno}: {layer} may not include {target} ({why[0]})')
                        bad += 1
                    elif tl not in ALLOWED[layer]:
                        print(f'src/{rel}:{lineno}: {layer} may not include {target} '
                              f'({tl} is not below {layer})')
                        bad += 1
                    elif (layer == 'engine' and tl == 'engine' and unit != 'engine'
                          and tunit not in (unit, 'engine')):
                        print(f'src/{rel}:{lineno}: {unit} may not include {target} '
                              '(one engine never includes another)')
                        bad += 1
    if checked == 0:
        print('no #include lines found under src/: wrong root?')
        return 1
    print(f'{checked} includes checked, {bad} violations')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else
                  os.path.join(os.path.dirname(__file__), '..', '..')))
