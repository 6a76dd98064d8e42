"""run_cli: one error line and exit 2, signals unwinding like Ctrl-C with their own exit status; signals_deferred."""
import os
import signal

import pytest

from errors import UserError, run_cli, signals_deferred


def test_user_error_is_one_line_and_exit_2(capsys):
    def main(argv):
        raise UserError(f"bad {argv[0]}; pass a good one")

    assert run_cli(main, ["thing"]) == 2
    assert capsys.readouterr().err == "error: bad thing; pass a good one\n"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_unwinds_the_body_and_exits_128_plus_its_number(sig, capsys):
    steps = []

    def main(argv):
        try:
            os.kill(os.getpid(), sig)  # the handler raises here, in the body, as Ctrl-C would
            steps.append("went on")
        finally:
            steps.append("cleaned up")

    before = signal.getsignal(sig)
    assert run_cli(main) == 128 + sig
    assert steps == ["cleaned up"]
    assert capsys.readouterr().err == f"terminated by {signal.Signals(sig).name}\n"
    assert signal.getsignal(sig) is before  # the caller's handler is back


def test_signals_deferred_holds_the_signal_until_the_block_ends(capsys):
    steps = []

    def main(argv):
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            steps.append("inside, after the signal")  # e.g. the temp file is recorded for cleanup
        steps.append("after the block")

    assert run_cli(main) == 128 + signal.SIGTERM
    assert steps == ["inside, after the signal"]
