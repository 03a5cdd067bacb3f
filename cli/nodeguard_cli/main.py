# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nodeguard: audit and harden a fleet with the nodeguard.hardening collection, and read its reports.

Commands:
  audit    run the audit playbook (check mode) over an inventory; write the fleet documents
  harden   run the harden playbook over an inventory; write the fleet documents
  report   turn a directory of per-node reports into fleet-summary.json, fleet-junit.xml, fleet-report.html
  diff     what changed between two directories of reports

Exit codes:
  0  every control passes (or nothing --fail-on counts)
  1  drift found (audit) or left (harden); for diff: new drift
  2  controls in error, or nodes unreachable or without a report; for diff: new errors, or a
     node without a report in the new run
  3  usage errors: bad options, a missing inventory, a report file that cannot be read

--fail-on chooses what fails audit, harden and report: drift (1 for drift, 2 for errors and
unreachable nodes), error (only errors and unreachable nodes, 2) or never (0). A run that reached
no node at all exits 2 whatever --fail-on says. report defaults to never, audit and harden to drift.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing as t
from pathlib import Path

from nodeguard_cli import __version__
from nodeguard_cli.diff import diff as fleet_diff
from nodeguard_cli.diff import exit_code as diff_exit_code
from nodeguard_cli.diff import render_text as render_diff
from nodeguard_cli.reports.load import MODES, ReportError, load_reports, load_unreachable, select_mode
from nodeguard_cli.reports.summary import EXIT_USAGE, FAIL_ON, exit_code, fleet_summary, render_text
from nodeguard_cli.reports.write import FORMATS, parse_formats, write_outputs
from nodeguard_cli.run import UsageError, parse_ids, run_fleet

_EXIT_CODES = __doc__[__doc__.index("Exit codes:") :]


class Parser(argparse.ArgumentParser):
    """argparse with exit code 3 for usage errors (argparse's own 2 means errors on nodes here)."""

    def error(self, message: str) -> t.NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _formats(text: str) -> list[str]:
    try:
        return parse_formats(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return number


def build_parser() -> Parser:
    parser = Parser(
        prog="nodeguard",
        description="Audit and harden a fleet with the nodeguard.hardening collection, and read its reports.",
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    all_formats = ",".join(FORMATS)

    for mode, summary in (
        ("audit", "run the audit playbook (check mode, nothing changes) and write the fleet documents"),
        ("harden", "run the harden playbook (changes applied) and write the fleet documents"),
    ):
        run = commands.add_parser(
            mode,
            help=summary,
            description=summary,
            epilog=_EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        run.add_argument(
            "-i",
            "--inventory",
            action="append",
            required=True,
            help="inventory file or directory, or host1,host2, (repeat for several sources, as with ansible-playbook)",
        )
        run.add_argument("--limit", help="Ansible host pattern: only these nodes")
        run.add_argument(
            "--controls",
            metavar="IDS",
            help="comma-separated control ids to switch on although off by default "
            "(replaces nodeguard_enabled_controls from the inventory for this run)",
        )
        run.add_argument(
            "--skip",
            metavar="IDS",
            help="comma-separated control ids to switch off, reported as skipped "
            "(replaces nodeguard_disabled_controls from the inventory for this run)",
        )
        run.add_argument("--forks", type=_positive, metavar="N", help="nodes worked on at once")
        run.add_argument(
            "--output",
            type=Path,
            default=Path("nodeguard-reports"),
            metavar="DIR",
            help="where the per-node reports and fleet documents go; reports of this mode an earlier run "
            "left there are replaced (default: %(default)s)",
        )
        run.add_argument(
            "--format",
            type=_formats,
            default=list(FORMATS),
            metavar="FORMATS",
            help=f"fleet documents to write, comma-separated from {all_formats} (default: all); "
            "fleet-summary.json is always written, it records the nodes without a report",
        )
        run.add_argument("--quiet", action="store_true", help="no progress and no summary on the terminal")
        run.add_argument(
            "--json", action="store_true", help="print the fleet summary as JSON (progress goes to stderr)"
        )
        run.add_argument(
            "--fail-on", choices=FAIL_ON, default="drift", help="what makes the exit code non-zero (default: drift)"
        )

    report = commands.add_parser(
        "report",
        help="write fleet documents from a directory of per-node reports",
        description="Write fleet documents from a directory of NODE-audit.json / NODE-harden.json reports. "
        "Nodes an earlier run listed as unreachable in the directory's fleet-summary.json stay listed.",
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("directory", type=Path, metavar="DIR")
    report.add_argument(
        "--format",
        type=_formats,
        default=list(FORMATS),
        metavar="FORMATS",
        help=f"comma-separated from {all_formats} (default: all)",
    )
    report.add_argument("--output", type=Path, metavar="DIR", help="where to write them (default: DIR)")
    report.add_argument("--mode", choices=MODES, help="which reports, when DIR holds both audit and harden ones")
    report.add_argument(
        "--fail-on", choices=FAIL_ON, default="never", help="what makes the exit code non-zero (default: never)"
    )
    report.add_argument("--quiet", action="store_true", help="print nothing but errors")

    compare = commands.add_parser(
        "diff",
        help="what changed between two directories of reports",
        description="Per node and control: new drift, fixed, new errors, other status changes, "
        "controls added or removed.",
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("old", type=Path, metavar="OLD")
    compare.add_argument("new", type=Path, metavar="NEW")
    compare.add_argument(
        "--mode", choices=MODES, help="which reports, when a directory holds both audit and harden ones"
    )
    compare.add_argument("--json", action="store_true", help="print the differences as JSON")
    return parser


def _report(args: argparse.Namespace) -> int:
    reports = load_reports(args.directory)
    mode, chosen = select_mode(reports, args.mode, args.directory)
    summary = fleet_summary(mode, chosen, load_unreachable(args.directory))
    written = write_outputs(args.output or args.directory, args.format, summary, chosen)
    if not args.quiet:
        print(render_text(summary))
        for path in written:
            print(f"wrote {path}")
    return exit_code(summary, args.fail_on)


def _diff(args: argparse.Namespace) -> int:
    result = fleet_diff(args.old, args.new, args.mode)
    print(json.dumps(result.to_dict(), indent=2) if args.json else render_diff(result))
    return diff_exit_code(result)


def main(argv: list[str] | None = None, runner: t.Callable[..., t.Any] | None = None) -> int:
    """Parse ``argv`` and run the command; ``runner`` stands in for ansible_runner.run (tests)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if args.command == "report":
            return _report(args)
        if args.command == "diff":
            return _diff(args)
        return run_fleet(
            args.command,
            args.inventory,
            args.output,
            args.format,
            limit=args.limit,
            controls=parse_ids(args.controls, "--controls"),
            skip=parse_ids(args.skip, "--skip"),
            forks=args.forks,
            quiet=args.quiet,
            as_json=args.json,
            fail_on=args.fail_on,
            runner=runner,
        )
    except (UsageError, ReportError) as exc:
        print(f"nodeguard {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"nodeguard {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
