"""`ev triage` reads the twcs columns (detected or --format twcs) and CSV dates as people
write them; a reply to a brand's tweet is addressed to that brand."""

import json

from typer.testing import CliRunner

from escapevelocity.cli.main import app
from escapevelocity.services.parse import Problem, read_file

runner = CliRunner()
ROWS = [  # our own texts, in the twcs columns
    {"tweet_id": "1", "author_id": "AcmeHelp", "inbound": False,
     "created_at": "2017-10-31T22:10:47+00:00", "text": "@c1 Sorry to hear that, DM us",
     "response_tweet_ids": ["2"], "in_response_to_tweet_id": "3"},
    {"tweet_id": "2", "author_id": "c1", "inbound": True,
     "created_at": "2017-10-31T22:11:45+00:00", "text": "and how do you propose we do that",
     "response_tweet_ids": [], "in_response_to_tweet_id": "1"},
    {"tweet_id": "3", "author_id": "c1", "inbound": True,
     "created_at": "Tue Oct 31 22:08:27 +0000 2017", "text": "@AcmeHelp nothing. sort it out",
     "response_tweet_ids": ["1"], "in_response_to_tweet_id": None},
]


def test_twcs_jsonl_is_detected_and_replies_know_the_brand(tmp_path):
    path = tmp_path / "twcs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    got = list(read_file(path))
    assert [m.source_id for m in got] == ["2", "3"]  # the brand's own tweet is not a mention
    assert got[0].to == "@AcmeHelp" and got[0].in_reply_to == "1" and got[0].kind == "reply"
    assert got[1].created_at.year == 2017 and got[1].author.handle == "c1"
    brand = tmp_path / "brand.yaml"
    brand.write_text("name: Acme\nhandles: ['@AcmeHelp']\n")
    r = runner.invoke(app, ["triage", str(path), "--brand", str(brand)])
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(records) == 2 and all(rec["respond"] for rec in records)
    assert "missing required field" not in r.output


def test_twcs_csv_with_format_flag_and_spreadsheet_dates(tmp_path):
    path = tmp_path / "twcs.csv"
    path.write_text("tweet_id,author_id,inbound,created_at,text,response_tweet_ids,"
                    "in_response_to_tweet_id\n"
                    "1,AcmeHelp,False,Tue Oct 31 22:10:47 +0000 2017,@c1 hi,2,\n"
                    "2,c1,True,2026-11-20 10:03,thanks that worked,,1.0\n")
    got = list(read_file(path, "twcs"))
    assert len(got) == 1 and not isinstance(got[0], Problem) and got[0].to == "@AcmeHelp"
    mentions = tmp_path / "m.csv"
    mentions.write_text("source_id,channel,text,author_handle,created_at\n"
                        "9,twitter,hello,bob,2026-11-20 10:03\n10,twitter,x,bob,not a date\n")
    got = list(read_file(mentions))
    assert got[0].created_at.hour == 10 and got[0].created_at.minute == 3
    assert isinstance(got[1], Problem)
