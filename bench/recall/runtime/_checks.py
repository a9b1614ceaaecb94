"""The pass/fail tally of the test scripts here (they run without pytest: `python3 test_x.py`)."""
import sys

passed, failed = 0, 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def finish():
    """Prints the tally and exits 1 if a check failed."""
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
