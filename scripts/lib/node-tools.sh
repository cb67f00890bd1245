# Shared by the scripts that test with Node clients (ts_person_e2e.sh, browser_e2e.sh): Node
# and npm packages installed into a temporary folder, never into the repo. Source it after
# setting WORK (scratch folder, for logs) and TOOLS (install folder).
# Exit 3 from these functions means "could not install", not "the server failed".

cannot_install() { # what, log
  echo "could not install $1:" >&2
  tail -20 "$2" >&2
  exit 3
}

npm_i() { # dir, npm install args...
  local dir=$1; shift
  (cd "$dir" && timeout 600 npm install --no-audit --no-fund "$@" >"$WORK/npm.log" 2>&1) \
    || cannot_install "${*:-the packages of $dir/package.json} from the npm registry" "$WORK/npm.log"
}

# Sets NODE to a node of at least MAJOR.MINOR: the one on PATH, else node@22.23.3 from npm.
use_node() { # major, minor
  local want="const [a,b]=process.versions.node.split('.').map(Number);process.exit(a>$1||(a===$1&&b>=$2)?0:1)"
  NODE=$(command -v node || true)
  if [ -n "$NODE" ] && "$NODE" -e "$want" 2>/dev/null; then return; fi
  mkdir -p "$TOOLS/node22"
  [ -x "$TOOLS/node22/node_modules/.bin/node" ] || npm_i "$TOOLS/node22" node@22.23.3
  NODE=$TOOLS/node22/node_modules/.bin/node
  "$NODE" -e "$want" 2>/dev/null || { echo "node@22.23.3 did not install a working node" >&2; exit 3; }
}

# Installs PACKAGE_JSON's exact versions into $TOOLS/deps, unless they are there already.
install_deps() { # package.json, package folders that must exist afterwards...
  local manifest=$1 dir; shift
  mkdir -p "$TOOLS/deps"
  local fresh=1
  cmp -s "$manifest" "$TOOLS/deps/package.json" || fresh=0
  for dir in "$@"; do [ -d "$TOOLS/deps/node_modules/$dir" ] || fresh=0; done
  if [ "$fresh" = 0 ]; then
    cp "$manifest" "$TOOLS/deps/package.json"
    npm_i "$TOOLS/deps"
  fi
}
