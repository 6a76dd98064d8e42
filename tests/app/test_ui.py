"""webapp.ui: the page's jobs share one queue slot, and its theme asks for no web fonts."""
from webapp.jobs import Jobs


def test_jobs_are_queued_one_at_a_time_and_the_theme_is_offline(tmp_path):
    from webapp import ui

    page = ui.build(Jobs(tmp_path, device="cpu"))
    jobs = [fn for fn in page.fns.values() if fn.name in ("animate", "stylize")]
    assert sorted(fn.name for fn in jobs) == ["animate", "stylize"]
    assert {(fn.concurrency_limit, fn.concurrency_id) for fn in jobs} == {(1, ui.JOB_GROUP)}
    assert not page.analytics_enabled
    fonts = [*ui.THEME.font, *ui.THEME.font_mono]
    urls = [None if isinstance(f, str) else f.stylesheet()["url"] for f in fonts]
    assert urls == [None] * len(fonts)  # system fonts: no stylesheet to fetch
    assert not [s for s in ui.THEME._stylesheets if "http" in str(s)]
