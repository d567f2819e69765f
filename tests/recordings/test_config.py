"""`[recordings]`: defaults, a folder relative to the config file, and each mistake named by its key."""

from __future__ import annotations

import pytest

from agent_desktop.config import ConfigError, load_config, parse_config


def test_defaults_and_a_folder_relative_to_the_config_file(tmp_path):
    defaults = parse_config("").recordings
    assert (defaults.dir, defaults.retention_days) == ("var/recordings", 30)
    assert defaults.score_criteria == ("greeting", "information", "politeness", "closing")
    path = tmp_path / "centre" / "desk.toml"
    path.parent.mkdir()
    path.write_text('[recordings]\nretention_days = 90\nscore_criteria = ["tone", "script_followed"]\n')
    config = load_config(path)
    assert config.path(config.recordings.dir) == path.parent / "var" / "recordings"
    assert config.recordings.retention_days == 90
    assert config.recordings.score_criteria == ("tone", "script_followed")


@pytest.mark.parametrize(
    "text, names",
    [
        ("retention_days = 0", "[recordings] retention_days"),
        ("retention_days = 3651", "[recordings] retention_days"),
        ('retention_days = "30"', "[recordings] retention_days"),
        ('dir = " "', "[recordings] dir"),
        ("score_criteria = []", "[recordings] score_criteria"),
        ('score_criteria = ["Greeting"]', "[recordings] score_criteria"),
        ('score_criteria = ["tone", "tone"]', "[recordings] score_criteria"),
        ("keep = true", "[recordings] keep"),
    ],
)
def test_bad_recordings_config_names_the_key(text, names):
    with pytest.raises(ConfigError, match=names.replace("[", r"\[").replace("]", r"\]")):
        parse_config(f"[recordings]\n{text}\n")
