#!/usr/bin/env bash
# The GitHub Actions workflows cannot run here; this checks what can be checked offline:
# every file against the GitHub workflow JSON Schema (check-jsonschema's vendored copy), the
# Dependabot file against Dependabot's, and
# with shellcheck every `run:` step, as the bash GitHub runs it (`bash -e -o pipefail`), with
# each ${{ … }} expression replaced by a shell variable, and the scripts the steps call
# (scripts/, docker/).
#   .ci/check-workflows.sh     (needs check-jsonschema from PyPI and Debian's shellcheck)
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
[ ${#workflows[@]} -gt 0 ] || { echo "no workflows in .github/workflows" >&2; exit 1; }

check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}"
check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml

scripts=$(mktemp -d)
trap 'rm -rf "$scripts"' EXIT
# The Python that has check-jsonschema, whose YAML parser (ruamel.yaml) reads the workflows.
"${PYTHON:-python3}" - "$scripts" "${workflows[@]}" <<'PY'
import re, sys
from ruamel.yaml import YAML
out, files = sys.argv[1], sys.argv[2:]
count = 0
for path in files:
    workflow = YAML(typ="safe").load(open(path))
    for job_name, job in workflow["jobs"].items():
        for index, step in enumerate(job.get("steps", [])):
            if "run" not in step:
                continue
            shell = step.get("shell", job.get("defaults", {}).get("run", {}).get("shell", "bash"))
            if shell != "bash":
                sys.exit(f"{path} {job_name} step {index}: only bash steps are checked, not {shell}")
            # An expression becomes a variable: shellcheck then sees how the text uses it.
            body = re.sub(r"\$\{\{[^}]*\}\}", "${GITHUB_EXPRESSION}", step["run"])
            name = f"{out}/{path.lstrip('.').replace('/', '_')}.{job_name}.{index}.sh"
            with open(name, "w") as script:
                script.write(f"#!/usr/bin/env bash\n# {path}: {job_name}, step {index} ({step.get('name', '')})\nset -eo pipefail\n{body}")
            count += 1
print(f"{count} run steps extracted from {len(files)} workflows")
PY
shellcheck --shell=bash --external-sources "$scripts"/*.sh scripts/*.sh docker/*.sh
echo "workflows: schema and shellcheck clean"
