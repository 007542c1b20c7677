"""Bad input: a broken playbook never replaces the active one, and says file, line and rule."""

from pathlib import Path

import pytest

from escapevelocity.domain.playbook import (
    PlaybookError,
    compile_playbook,
    default_playbook_path,
    load_playbook,
)

SOURCE = Path(default_playbook_path()).read_text()
BROKEN = SOURCE.replace("then: {track: pr, tags: [misinformation]}",
                        "then: {track: pr, tags: [misinformation], priority: urgent}")
# the line of the broken rule's `then`, wherever the shipped playbook has it
LINE = SOURCE[:SOURCE.index("then: {track: pr, tags: [misinformation]}")].count("\n") + 1


def test_error_names_file_line_and_rule(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    with pytest.raises(PlaybookError) as info:
        load_playbook(str(path))
    e = info.value
    assert (e.source, e.line, e.rule) == (str(path), LINE, "misinformation")
    assert str(e).startswith(f"{path}:{LINE}: rule 'misinformation': priority must be one of")


def test_yaml_syntax_errors_have_a_line():
    with pytest.raises(PlaybookError) as info:
        compile_playbook(SOURCE.replace("  - id: troll\n", "  - id: troll\n   bad: [\n"),
                         source="pb.yaml")
    assert info.value.line is not None and "not valid YAML" in str(info.value)
