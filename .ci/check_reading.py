"""Runs every code block of docs/reading.md against a release, from inside its directory:
```python blocks with this Python, ```sql blocks with DuckDB, ```r blocks with Rscript (when
R is installed). A block that fails fails CI, so the page stays true.

usage: check_reading.py DOCS_READING_MD RELEASE_DIR
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

page, release = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
blocks = re.findall(r"```(python|sql|r)\n(.*?)```", page.read_text(), re.S)
assert len(blocks) >= 6, f"{len(blocks)} code blocks"
os.chdir(release)
ran = {"python": 0, "sql": 0, "r": 0}
for lang, code in blocks:
    if lang == "python":
        exec(compile(code, f"{page.name} (python block {ran['python'] + 1})", "exec"), {})
    elif lang == "sql":
        import duckdb

        print(duckdb.sql(code).fetchall())
    elif lang == "r":
        if shutil.which("Rscript") is None:
            print("Rscript not installed: R block not run")
            continue
        subprocess.run(["Rscript", "-e", code], check=True)
    ran[lang] += 1
print(f"reading.md: ran {ran}")
