"""`ev eval`: metrics side by side with VADER, learning from a dev file, JSON report, bad files."""

import json
import random

from needs import extra
from typer.testing import CliRunner

from escapevelocity.cli.main import app

runner = CliRunner()
NEG = ["my flight was cancelled again", "still waiting for my refund", "charged twice, awful",
       "worst service ever", "the app keeps crashing", "nobody answers the phone"]
POS = ["thank you, brilliant service", "love the new app", "great crew, smooth flight",
       "the engineer was amazing", "so happy with my upgrade", "well done team"]
NEU = ["what time does the store open", "is the lounge in terminal 2", "my order number is 4",
       "do you fly to Lisbon", "how do I change my address", "where is gate 12"]


def write(path, n, seed):
    rnd = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(n):
            label, pool = rnd.choice((("negative", NEG), ("positive", POS), ("neutral", NEU)))
            fh.write(json.dumps({"id": f"{seed}-{i}", "text": f"{rnd.choice(pool)} {i}",
                                 "label": label}) + "\n")
    return path


def test_sentiment_report_with_vader_side_by_side(tmp_path):
    data = write(tmp_path / "test.jsonl", 60, 1)
    out = tmp_path / "r" / "report.json"
    result = runner.invoke(app, ["eval", str(data), "--signal", "sentiment", "--report", str(out)])
    assert result.exit_code == 0, result.output
    assert "vaderSentiment" in said(result) and "macro-F1" in said(result)
    report = json.loads(out.read_text())
    for key in ("macro_recall", "macro_f1", "accuracy", "confusion", "mentions_per_s"):
        assert key in report["ours"] and key in report["vader"]
    assert report["rows"] == 60


def test_learn_from_dev_then_score(tmp_path):
    extra("sklearn", "learn")
    dev, test = write(tmp_path / "dev.jsonl", 200, 2), write(tmp_path / "test.jsonl", 60, 3)
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["eval", str(test), "--signal", "sentiment", "--learn-from",
                                 str(dev), "--report", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    card = report["learning"]["card"]
    assert card["corrections"] == 200 and card["held_back"] > 0
    if card.get("promoted"):
        assert report["learned"]["macro_f1"] >= 0.9


def test_complaint_and_spam_labels_are_mapped(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"text": "charged twice again @bank", "label": "complaint"},
        {"text": "how do I open an account?", "label": "not_complaint"}]) + "\n")
    result = runner.invoke(app, ["eval", str(path), "--signal", "complaint"])
    assert result.exit_code == 0, result.output
    spam = tmp_path / "s.jsonl"
    spam.write_text(json.dumps({"text": "follow back f4f click here", "label": "spam"}) + "\n"
                    + json.dumps({"text": "nice song", "label": "ham"}) + "\n")
    assert runner.invoke(app, ["eval", str(spam), "--signal", "spam"]).exit_code == 0


def said(result):
    return " ".join(result.output.split())


def test_bad_files_fail_with_a_message(tmp_path):
    missing = runner.invoke(app, ["eval", str(tmp_path / "nope.jsonl"), "--signal", "sentiment"])
    assert missing.exit_code == 1 and "no such file" in said(missing)
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"not json\n\xff\xfe\n{\"text\": \"x\"}\n")
    result = runner.invoke(app, ["eval", str(junk), "--signal", "sentiment"])
    assert result.exit_code == 1 and "no rows" in said(result)
    unknown = runner.invoke(app, ["eval", str(junk), "--signal", "mood"])
    assert unknown.exit_code == 1 and "unknown signal" in said(unknown)
    crisis = runner.invoke(app, ["eval", str(junk), "--signal", "crisis"])
    assert crisis.exit_code == 1 and "index.json" in said(crisis)


def test_bench_returns_lines():
    from escapevelocity.bench import signals

    result = signals.run(n=300, runs=1)
    real = result["real_posts"]  # only when ../shared/data is beside the project
    # the three ratio lines (and the real posts'), then the Python rules for comparison
    assert result["mentions_per_s"] > 0 and len(result["lines"]) == 4 + bool(real)
    assert result["lines"][-1]["met"] is None and result["python_rules_mentions_per_s"] > 0
    assert result["path"] == "compiled kernels"
    assert not real or (real["mentions"] > 0 and real["vader_mentions_per_s"] > 0)
    assert result["vader_mentions_per_s"] > 0
    longer = result["tweet_length"]
    assert 140 <= longer["mean_chars"] <= 280 and longer["vader_mentions_per_s"] > 0


def test_learned_bench_times_the_hot_path_and_the_refine_job():
    extra("sklearn", "learn")
    from escapevelocity.bench import learned

    # one refine batch (64) and a model from 100 corrections: every text is embedded by the
    # pure-numpy MiniLM, ~0.02 CPU-s each, and this checks that each line is measured, not
    # the figures (n=300 and 300 corrections took ~11 CPU-s here, this ~3)
    result = learned.run(n=learned.REFINE_BATCH, runs=1, train_size=100)
    assert result["features"] == "words + MiniLM embeddings"
    assert result["rules_mentions_per_s"] > 0 and result["hot_path_mentions_per_s"] > 0
    assert result.get("refine_mentions_per_s", 0) > 0, "needs the embed extra (make install)"
    assert len(result["lines"]) == 3


def test_complaint_severity_is_scored_on_the_complaints(tmp_path):
    rows = [("@orbit my parcel hasn't arrived yet", "complaint", "no_explicit_reproach"),
            ("@orbit you still haven't replied to my email", "complaint", "accusation"),
            ("@orbit your incompetence is unbelievable, never again", "complaint", "blame"),
            ("love the new app", "not_complaint", "non_complaint")]
    path = tmp_path / "sev.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": lab, "severity": sev}) + "\n"
                            for t, lab, sev in rows))
    result = runner.invoke(app, ["eval", str(path), "--signal", "severity"])
    assert result.exit_code == 0, result.output
    said_ = " ".join(result.output.split())  # Rich wraps lines at the terminal width
    assert "3 labelled rows, 1 skipped" in said_


def test_complaint_severity_is_learned_from_corrections(tmp_path):
    # A workspace's own word for blame ("flurb": the rules cannot know it) on complaints the
    # rules already see; learning severity also learns the complaints from the same rows.
    extra("sklearn", "learn")
    rnd = random.Random(4)
    rows = []
    for i in range(80):
        blame = i % 2 == 0
        text = rnd.choice(NEG[:3]) + (" flurb flurb" if blame else "") + f" {i}"
        rows.append({"id": i, "text": "@orbit " + text, "label": "complaint",
                     "severity": "blame" if blame else "no_explicit_reproach"})
    rows += [{"id": 100 + i, "text": f"{rnd.choice(POS)} {i}", "label": "not_complaint",
              "severity": "non_complaint"} for i in range(20)]
    path = tmp_path / "sev.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = tmp_path / "r.json"
    result = runner.invoke(app, ["eval", str(path), "--signal", "severity", "--learn-from",
                                 str(path), "--report", str(report)])
    assert result.exit_code == 0, result.output
    got = json.loads(report.read_text())
    assert got["learning"]["card"]["promoted"]
    assert got["learned"]["macro_f1"] > got["ours"]["macro_f1"] + 0.3


def test_a_json_report_is_written_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("EV_VAR_DIR", str(tmp_path / "var"))
    data = write(tmp_path / "posts.jsonl", 30, seed=7)
    result = runner.invoke(app, ["eval", str(data), "--signal", "sentiment"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "var" / "eval" / "posts-sentiment.json").read_text())
    assert report["rows"] == 30 and "macro_f1" in report["ours"]
