"""reporting.console: plain log lines on whatever stderr is now, one handler however often it is called."""
import logging

from reporting import _Console, console


def test_console_prints_plain_lines_to_the_current_stderr_once(capsys):
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        console()
        console()
        assert sum(isinstance(h, _Console) for h in root.handlers) == 1
        logging.getLogger("engine.something").info("run dir %s", "log/00001")
        logging.getLogger("engine.something").debug("not shown")
        assert capsys.readouterr().err == "run dir log/00001\n"
        console(logging.WARNING)
        logging.getLogger("engine.something").info("hidden now")
        assert capsys.readouterr().err == ""
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])


def test_captured_sends_one_jobs_records_to_its_stream_and_restores_the_root_logger():
    import io

    from reporting import captured

    root = logging.getLogger()
    before = list(root.handlers), root.level
    log = io.StringIO()
    with captured(log):
        logging.getLogger("stages.pipeline").info("depth: face prior")
        logging.getLogger("engine.x").debug("not at INFO")
    logging.getLogger("stages.pipeline").warning("after the job")
    assert log.getvalue() == "depth: face prior\n"
    assert (list(root.handlers), root.level) == before
