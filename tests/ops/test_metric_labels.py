"""The request metrics keep few label values, whatever methods clients invent: under h11,
which passes any token as a method, 60,000 names grew a worker by 15 MB, never freed."""

from app.observability import metrics


def test_invented_methods_share_one_cache_entry_and_one_label() -> None:
    before = len(metrics._children)

    for number in range(2000):
        metrics.record_request(f"METHOD{number}", "unmatched", 405, 0.001)

    assert len(metrics._children) <= before + 1
    assert ("other", "unmatched", 405) in metrics._children
