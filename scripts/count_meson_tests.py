#!/usr/bin/env python3
"""Count passed and failed tests in a meson testlog.json.

TAP tests (cmocka programs) count one per test point ("ok N" / "not ok N"); a TAP
program that crashed before finishing also counts one failure. Other tests count
one each. Prints "PASSED FAILED".
"""
import json
import re
import sys

passed = failed = 0
with open(sys.argv[1], encoding="utf-8") as log:
    for line in log:
        if not line.strip():
            continue
        t = json.loads(line)
        ok_result = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
        points = re.findall(r"^(not ok|ok)\b", t.get("stdout", ""), re.M)
        if points:
            passed += sum(1 for p in points if p == "ok")
            failed += sum(1 for p in points if p == "not ok")
            if not ok_result and "not ok" not in points:
                failed += 1
        elif ok_result:
            passed += 1
        else:
            failed += 1
print(passed, failed)
