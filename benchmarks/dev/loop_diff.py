"""Count how ppo_dap.py's training loop differs from CleanRL's (README "Differences from CleanRL").

Compares, line by line with whitespace and comments stripped, the `for iteration ...` loop of CleanRL's
`ppo_continuous_action.py` (fetched by the user, see benchmarks/README.md) with the loop of
`ppo_dap.train`, and sorts our lines that CleanRL does not have by their tag (`# DAP`,
`# truncation bootstrap`, ...). Nothing of CleanRL's code is stored in this repository.

    python benchmarks/dev/loop_diff.py $CLEANRL/ppo_continuous_action.py
"""

import collections
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def loop_lines(text: str, start: str, end: str) -> list:
    """The lines from the first line containing `start` up to and including the last one before a line
    containing `end` (or the end of that block of indentation)."""
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if start in line)
    indent = len(lines[i]) - len(lines[i].lstrip())
    out = [lines[i]]
    for line in lines[i + 1:]:
        if end and end in line:
            break
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        out.append(line)
    return [line for line in out if line.strip() and not line.strip().startswith("#")]


def code(line: str) -> str:
    return re.sub(r"\s+", "", line.split("  #")[0])


def tag(line: str, previous_tag: str) -> str:
    """The tag of a changed line: its own `# tag`, else the nearest tag above it."""
    if "  # " in line:
        return line.split("  # ", 1)[1].split(":")[0].strip()
    return previous_tag


def main(cleanrl_path: str) -> None:
    theirs = loop_lines(open(cleanrl_path).read(), "for iteration in range(1,", "if args.save_model")
    ours_text = open(os.path.join(ROOT, "ppo_dap.py")).read()
    ours_all = ours_text.splitlines()
    start = next(k for k, line in enumerate(ours_all) if "for iteration in range(1," in line)
    theirs_code = collections.Counter(code(line) for line in theirs)
    kept, changed, block = 0, collections.Counter(), "other"
    for line in ours_all[start:]:
        stripped = line.strip()
        if stripped.startswith("envs.close()"):
            break
        if stripped.startswith("#"):  # a block comment "# tag: ..." tags the lines below it
            if ":" in stripped:
                block = stripped[2:].split(":")[0].split("(")[0].strip()
            continue
        if not stripped:
            continue
        c = code(line)
        if theirs_code[c] > 0:
            theirs_code[c] -= 1
            kept += 1
        else:
            block = tag(line, block)  # an untagged continuation line carries the tag of the line above
            changed[block] += 1
    print(f"CleanRL's loop: {len(theirs)} code lines; {kept} of them appear unchanged in ours.")
    print(f"Our loop: {kept + sum(changed.values())} code lines; {sum(changed.values())} not in CleanRL's, by tag:")
    for name, count in changed.most_common():
        print(f"  {count:3d}  {name}")


if __name__ == "__main__":
    main(sys.argv[1])
