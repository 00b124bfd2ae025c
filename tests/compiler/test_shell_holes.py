"""Placing the holes of `shell` commands (compile time): the reference each
hole becomes in every quoting context, nested shells (`sh -c`, `eval`, a
here-document fed to a shell, backticks, wrappers), arithmetic, the problems
reported, binding names, and the IR action built from a template."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatflow.compiler.shell_commands import classify
from chatflow.compiler.shell_holes import (
    PlacementError,
    _plain_layout,
    _simple,
    binding_names,
    layout,
    shell_action,
)
from chatflow.compiler.shell_lexer import analyse
from chatflow.compiler.shell_state import Placement

H = None  # a hole


def place(*parts: str | None) -> str:
    """The command text, every hole named `cf_v`, `cf_w`... in order."""
    names = iter(["cf_v", "cf_w", "cf_x"])
    lay = layout(tuple(parts))
    assert not lay.has_errors(), lay.problems()
    refs = {k: next(names) for k in range(sum(p is None for p in parts))}
    return "".join(p if isinstance(p, str) else lay.places[p].ref.replace("NAME", refs[p])
                   for p in lay.pieces)


def codes(*parts: str | None) -> list[str]:
    return [p.code for _, p in layout(tuple(parts)).problems()]


def integer(*parts: str | None) -> list[bool]:
    return [p.integer for p in layout(tuple(parts)).places]


# ---------------------------------------------------------------- contexts

@pytest.mark.parametrize(("parts", "text"), [
    (("make build FEATURE=", H), 'make build FEATURE="${cf_v}"'),
    (("echo pre", H, "post"), 'echo pre"${cf_v}"post'),
    (('git commit -m "fix: ', H, '"'), 'git commit -m "fix: ${cf_v}"'),
    (("echo 'a ", H, " b'"), "echo 'a '\"${cf_v}\"' b'"),
    (("echo $'a", H, "'"), "echo $'a'\"${cf_v}\"$''"),
    (("echo $(echo ", H, ")"), 'echo $(echo "${cf_v}")'),
    (('echo "$(echo ', H, ')"'), 'echo "$(echo "${cf_v}")"'),
    (("echo `echo ", H, "`"), 'echo `echo "${cf_v}"`'),
    (('x=`printf %s "', H, '"`'), 'x=`printf %s "${cf_v}"`'),
    (('echo "${UNSET:-"', H, '"}"'), 'echo "${UNSET:-"${cf_v}"}"'),
    (('echo "${UNSET:-', H, '}"'), 'echo "${UNSET:-"${cf_v}"}"'),
    (("echo ${UNSET:-", H, "}"), 'echo ${UNSET:-"${cf_v}"}'),
    (('echo "${x#', H, '}"'), 'echo "${x#"${cf_v}"}"'),
    (("cat <<EOF\n", H, "\nEOF\n"), "cat <<EOF\n${cf_v}\nEOF\n"),
    (("cat <<-EOF\n\t", H, "\n\tEOF\n"), "cat <<-EOF\n\t${cf_v}\n\tEOF\n"),
    (("cat <<EOF\n`echo ", H, "`\nEOF\n"), 'cat <<EOF\n`echo "${cf_v}"`\nEOF\n'),
    (("cat <<EOF\n$(echo ", H, ")\nEOF\n"), 'cat <<EOF\n$(echo "${cf_v}")\nEOF\n'),
    (('echo "$(cat <<EOF\n', H, '\nEOF\n)"'), 'echo "$(cat <<EOF\n${cf_v}\nEOF\n)"'),
    (('echo "$(case x in x) echo ', H, ';; esac)"'),
     'echo "$(case x in x) echo "${cf_v}";; esac)"'),
    (("case ", H, " in (a|b) echo ok;; esac"), 'case "${cf_v}" in (a|b) echo ok;; esac'),
    (("echo ok # ", H), 'echo ok # "${cf_v}"'),
    (("echo $(( 1 << 2 ))\necho ", H), 'echo $(( 1 << 2 ))\necho "${cf_v}"'),
    (("echo ${X:-<<EOF}\necho ", H), 'echo ${X:-<<EOF}\necho "${cf_v}"'),
    (("cat <<<", H), 'cat <<<"${cf_v}"'),
    (("f() { echo ", H, "; }; f"), 'f() { echo "${cf_v}"; }; f'),
    (("(cd /tmp && echo ", H, ")"), '(cd /tmp && echo "${cf_v}")'),
    (("X=", H, " make"), 'X="${cf_v}" make'),
    (("echo ", H, " ", H), 'echo "${cf_v}" "${cf_w}"'),
])
def test_reference_for_each_context(parts: tuple[str | None, ...], text: str) -> None:
    assert place(*parts) == text


def test_a_quoted_here_document_is_reopened_in_the_commands_own_text() -> None:
    assert place("cat <<'EOF'\n$HOME `x` \\ ", H, "\nEOF\n") == \
        "cat <<EOF\n\\$HOME \\`x\\` \\\\ ${cf_v}\nEOF\n"
    assert place('cat <<"E_1"\n', H, "\nE_1\n") == "cat <<E_1\n${cf_v}\nE_1\n"
    # without a hole it is left alone
    assert place("cat <<'EOF'\n$HOME\nEOF\n") == "cat <<'EOF'\n$HOME\nEOF\n"


# ---------------------------------------------------------------- nested shells

@pytest.mark.parametrize(("parts", "text"), [
    (('sh -c "echo ', H, '"'), 'sh -c "echo \\"\\${cf_v}\\""'),
    (("bash -c 'echo ", H, "'"), "bash -c 'echo \"${cf_v}\"'"),
    (("bash -c 'echo \"", H, "\"'"), "bash -c 'echo \"${cf_v}\"'"),
    (('sh -c "echo \'', H, '\'"'), 'sh -c "echo \'\'\\"\\${cf_v}\\"\'\'"'),
    (("sh -c 'sh -c \"echo ", H, "\"'"), "sh -c 'sh -c \"echo \\\"\\${cf_v}\\\"\"'"),
    (("/bin/bash -xec 'echo ", H, "' name"), "/bin/bash -xec 'echo \"${cf_v}\"' name"),
    (("bash -o pipefail -c 'echo ", H, "'"), "bash -o pipefail -c 'echo \"${cf_v}\"'"),
    (("env A=1 timeout 5 nice -n 3 sh -c 'echo ", H, "'"),
     "env A=1 timeout 5 nice -n 3 sh -c 'echo \"${cf_v}\"'"),
    (("xargs -I{} sh -c 'echo ", H, "'"), "xargs -I{} sh -c 'echo \"${cf_v}\"'"),
    (("find . -name x -exec sh -c 'echo ", H, "' \\;"),
     "find . -name x -exec sh -c 'echo \"${cf_v}\"' \\;"),
    (("flock /tmp/l -c 'echo ", H, "'"), "flock /tmp/l -c 'echo \"${cf_v}\"'"),
    (("eval echo ", H), "eval echo '\"${cf_v}\"'"),
    (("eval 'echo ", H, "'"), "eval 'echo \"${cf_v}\"'"),
    (("sh -c ", H), "sh -c '\"${cf_v}\"'"),
    (("bash <<EOF\necho ", H, "\nEOF\n"), 'bash <<EOF\necho "\\${cf_v}"\nEOF\n'),
    (("bash <<'EOF'\necho ", H, "\nEOF\n"), "bash <<'EOF'\necho \"${cf_v}\"\nEOF\n"),
    (("x=`sh -c \"echo ", H, "\"`"), 'x=`sh -c "echo \\\\"\\\\${cf_v}\\\\""`'),
    (("echo `echo \\`echo ", H, "\\``"), 'echo `echo \\`echo "${cf_v}"\\``'),
    (("sh -c 'echo \"$1\"' sh ", H), "sh -c 'echo \"$1\"' sh \"${cf_v}\""),
    (("ssh host deploy ", H), "ssh host deploy '\"${cf_v}\"'"),
    (("ssh host 'deploy ", H, "'"), "ssh host 'deploy \"${cf_v}\"'"),
    (("docker run -e cf_v img sh -c 'echo ", H, "'"),
     "docker run -e cf_v img sh -c 'echo \"${cf_v}\"'"),
    (("su -c 'echo ", H, "' bob"), "su -c 'echo \"${cf_v}\"' bob"),
    (("$SHELL -c 'echo ", H, "'"), "$SHELL -c 'echo \"${cf_v}\"'"),
    (('"${BASH:-bash}" -c \'echo ', H, "'"), '"${BASH:-bash}" -c \'echo "${cf_v}"\''),
    (("function f { sh -c 'echo ", H, "'; }; f"), "function f { sh -c 'echo \"${cf_v}\"'; }; f"),
    (("if true; then bash -c 'echo ", H, "'; fi"), "if true; then bash -c 'echo \"${cf_v}\"'; fi"),
    (("cmd=(sh -c 'echo ", H, "'); \"${cmd[@]}\""),
     "cmd=(sh -c 'echo \"${cf_v}\"'); \"${cmd[@]}\""),
    (("poetry run sh -c 'echo ", H, "'"), "poetry run sh -c 'echo \"${cf_v}\"'"),
    (("watch -n 2 'echo ", H, "'"), "watch -n 2 'echo \"${cf_v}\"'"),
    (("watch -x echo ", H), 'watch -x echo "${cf_v}"'),
    (("script -q -c 'echo ", H, "' /dev/null"), "script -q -c 'echo \"${cf_v}\"' /dev/null"),
    (("nix-shell --run 'hello ", H, "'"), "nix-shell --run 'hello \"${cf_v}\"'"),
    (("git rebase HEAD~3 -x 'make ", H, "'"), "git rebase HEAD~3 -x 'make \"${cf_v}\"'"),
])
def test_nested_shells_get_a_reference_they_expand_themselves(
        parts: tuple[str | None, ...], text: str) -> None:
    assert place(*parts) == text


def test_shell_options_and_commands_are_recognised() -> None:
    assert classify(["sh", "-c", "x"]).scripts == [(2, "sh")]
    assert classify(["bash", "--norc", "-e", "-c", "x", "n"]).scripts == [(4, "bash")]
    assert classify(["sudo", "-u", "bob", "bash", "-c", "x"]).env_cleared == "sudo"
    assert classify(["sudo", "-E", "bash", "-c", "x"]).env_cleared is None
    assert classify(["env", "-i", "sh", "-c", "x"]).env_cleared == "env -i"
    assert classify(["bash"]).stdin == "sh" and classify(["bash", "-s", "a"]).stdin == "sh"
    assert classify(["bash", "script.sh"]).stdin is None
    assert classify(["command", "-v", "sh"]).scripts == []
    assert classify(["python3", "-c", "x"]).foreign == [(2, "python3")]
    assert classify(["python3", "-", "a"]).stdin == "python3"
    assert classify(["awk", "-F:", "{print}", "f"]).foreign == [(2, "awk")]
    assert classify(["awk", "-f", "p.awk", "f"]).foreign == []
    assert classify(["sed", "-e", "s/a/b/", "f"]).foreign == [(2, "sed")]
    assert classify(["jq", "--arg", "x", "v", ".a"]).foreign == [(4, "jq")]
    ssh = classify(["ssh", "-p", "22", "host", "ls", "x"])
    assert (ssh.eval_from, ssh.eval_what, ssh.env_cleared) == (4, "ssh", "ssh")
    assert classify(["docker", "run", "i", "sh", "-c", "x"]).scripts == [(5, "sh")]
    assert classify(["docker", "run", "i", "sh", "-c", "x"]).env_cleared == "docker"
    assert classify(["docker", "run", "-e", "cf_v", "i", "sh", "-c", "x"]).env_cleared is None
    assert classify(["su", "-c", "x", "bob"]).scripts == [(2, "su")]
    assert classify(["su", "-", "bob", "-c", "x"]).env_cleared == "su -"
    assert classify(["let", "x=1"]).integers == [1]
    assert classify(["declare", "-i", "n=1"]).integers == [2]
    assert classify([None, "-c", "x"]) == classify([])


# ---------------------------------------------------------------- arithmetic

def test_arithmetic_holes_must_be_integers() -> None:
    assert place("echo $(( ", H, " + 1 ))") == "echo $(( ${cf_v} + 1 ))"
    assert integer("echo $(( ", H, " + 1 ))") == [True]
    assert integer("(( n = ", H, " ))") == [True]
    assert integer("for (( i = 0; i < ", H, "; i++ )); do :; done") == [True]
    assert integer("echo $[", H, "]") == [True]
    assert integer("echo ${x:", H, ":2}") == [True]
    assert integer("echo ${a[", H, "]}") == [True]
    assert integer("a[", H, "]=1") == [True]
    assert integer("let x=", H) == [True]
    assert integer("[[ ", H, " -lt 3 ]]") == [True]
    assert integer("[[ 3 -ge ", H, " ]]") == [True]
    assert integer("[[ ", H, " == x ]]") == [False]
    # a value whose text flows into arithmetic through a substitution
    assert integer("echo $(( $(echo ", H, ") + 1 ))") == [True]
    assert integer("echo $(( `echo ", H, "` ))") == [True]
    assert integer("echo ", H, " $((1 + 2))") == [False]
    assert integer("sh -c 'echo $(( ", H, " ))'") == [True]


# ---------------------------------------------------------------- problems

@pytest.mark.parametrize(("parts", "code"), [
    (("cat <<", H, "\nx\n"), "E0410"),
    (("echo ${", H, "}"), "E0410"),
    (("echo \\", H), "E0410"),
    (('echo "\\', H, '"'), "E0410"),
    (("echo $", H), "E0410"),
    (("sh -c 'cat <<\"E\"\n", H, "\nE'"), "E0411"),
    (("x=`cat <<'E'\n", H, "\nE\n`"), "E0411"),
    (("cat <<'E F'\n", H, "\nE F\n"), "E0411"),
    (('sh -c "echo $(echo ', H, ')"'), "E0412"),
    (('eval "echo $(echo ', H, ')"'), "E0412"),
    (('bash -c "echo ${X:-', H, '}"'), "E0412"),
    (('sh -c "echo `echo ', H, '`"'), "E0412"),
    (("python3 -c 'print(", H, ")'"), "W0120"),
    (("node -e 'console.log(", H, ")'"), "W0120"),
    (("perl -e 'print ", H, "'"), "W0120"),
    (("awk 'BEGIN { print \"", H, "\" }'"), "W0120"),
    (("sed 's/a/", H, "/' f"), "W0120"),
    (("ssh host echo ", H), "W0121"),
    (("docker run img sh -c 'echo ", H, "'"), "W0121"),
    (("kubectl exec pod -- bash -c 'echo ", H, "'"), "W0121"),
    (("su - bob -c 'echo ", H, "'"), "W0121"),
    (("echo ", H, " | sh"), "W0120"),
    (("cat <<EOF | bash\necho ", H, "\nEOF\n"), "W0120"),
    (("python3 <<EOF\nprint(", H, ")\nEOF\n"), "W0120"),
    (("env -S 'sh -c \"echo ", H, "\"'"), "W0120"),
    (("source <(echo ", H, ")"), "W0120"),
    (("bash <(printf '%s' ", H, ")"), "W0120"),
    (("sudo sh -c 'echo ", H, "'"), "W0121"),
    (("env -i bash -c 'echo ", H, "'"), "W0121"),
])
def test_problems(parts: tuple[str | None, ...], code: str) -> None:
    assert code in codes(*parts)


@pytest.mark.parametrize("parts", [
    ("sh -c 'echo \"$1\"' sh ", H),
    ("python3 script.py ", H),
    ("awk -v x=", H, " '{print x}' f"),
    ("jq --arg x ", H, " '.a'"),
    ("echo $(( 1 + 2 )) ", H),
    ("sh -c \"echo $(( ", H, " ))\""),   # an integer: safe to expand outside
    ("cat <<'EOF'\n", H, "\nEOF\n"),
    ("sudo -E sh -c 'echo ", H, "'"),
    ("diff <(echo ", H, ") file"),
    ("$CC -c ", H),
])
def test_no_problem(parts: tuple[str | None, ...]) -> None:
    assert codes(*parts) == []


def test_shell_action_refuses_what_cannot_be_placed() -> None:
    with pytest.raises(PlacementError, match="here-document's delimiter"):
        shell_action({"op": "fmt", "args": [{"lit": "cat <<"}, {"param": "v"}]})


# ---------------------------------------------------------------- the IR action and names

def _fmt(*parts: Any) -> dict[str, Any]:
    return {"op": "fmt", "args": [p if isinstance(p, dict) else {"lit": p} for p in parts]}


def test_shell_action_is_fixed_text_plus_bindings() -> None:
    v, n = {"param": "v"}, {"op": "call", "fn": "len", "args": [{"param": "v"}]}
    action = shell_action(_fmt("echo ", v, " $(( ", n, " )) ", v))
    assert action == {"type": "shell", "command": 'echo "${cf_v}" $(( ${cf_1} )) "${cf_v}"',
                      "bindings": {"cf_1": n, "cf_v": v}, "integers": ["cf_1"]}
    assert shell_action(_fmt("make")) == {"type": "shell", "command": "make", "bindings": {}}


def test_binding_names() -> None:
    exprs = [{"param": "feature_id"}, {"step": "unit", "field": "coverage"},
             {"ctx": "attempt"}, {"var": "n"},
             {"op": "attr", "name": "sha", "args": [{"step": "b", "field": "out"}]},
             {"op": "+", "args": [{"lit": 1}, {"lit": 2}]}, {"param": "feature_id"},
             {"op": "call", "fn": "str", "args": [{"lit": "a b"}]},
             {"param": "a_b"}, {"op": "attr", "name": "b", "args": [{"param": "a"}]}]
    assert binding_names(exprs) == [
        "cf_feature_id", "cf_unit_coverage", "cf_ctx_attempt", "cf_n", "cf_b_out_sha", "cf_1",
        "cf_feature_id", "cf_2", "cf_a_b", "cf_a_b_2"]


@pytest.mark.parametrize("parts", [
    ("make build FEATURE=", H),
    ("echo ", H, " ", H, " x"),
    ("X=1 Y=", H, " ./run.sh --flag=", H),
    ("python3 tools/x.py ", H),
    ("a", H, "b"),
])
def test_the_fast_path_agrees_with_the_lexer(parts: tuple[str | None, ...]) -> None:
    simple = _simple(parts)
    assert simple is not None and simple == _plain_layout(parts)
    items: list[str | int] = []
    holes = 0
    for p in parts:
        if p is None:
            items.append(holes)
            holes += 1
        else:
            items.extend(p)
    full = analyse(items)
    assert [full.places.get(h, Placement()) for h in range(holes)] == list(simple.places)
    assert full.edits == {}


@pytest.mark.parametrize("parts", [
    ("sh -c ", H), ("X=", H, " sh -c ", H), ("let x=", H), ("eval ", H),
    ("python3 -c ", H), ("if ", H), ("echo ", H, " | sh"), ("ssh host ", H),
])
def test_the_fast_path_leaves_special_commands_to_the_lexer(
        parts: tuple[str | None, ...]) -> None:
    assert _simple(parts) is None


# ---------------------------------------------------------------- any text

_FRAGMENTS = ["'", '"', "\\", "$", "`", "(", ")", "{", "}", "[", "]", "$(", "$((", "${", "))",
              "<<", "<<-", "<<'E'", "<<E", "\nE\n", "E", "\n", ";", ";;", "&&", "|", "#", " ",
              "case", "in", "esac", "sh", "-c", "eval", "let", "[[", "]]", "-eq", ":-", "x",
              "=", "$'", "<", ">", "!", "*", "\t"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS) | st.none() | st.text(max_size=3), max_size=25))
def test_any_template_is_placed_or_refused_without_crashing(parts: list[str | None]) -> None:
    args = [{"param": f"p{k}"} if p is None else {"lit": p} for k, p in enumerate(parts)]
    try:
        action = shell_action({"op": "fmt", "args": args})
    except PlacementError as exc:
        assert exc.problems and all(p.code.startswith("E") for _, p in exc.problems)
        return
    assert isinstance(action["command"], str)
    assert set(action["bindings"]) == {f"cf_p{k}" for k, p in enumerate(parts) if p is None}
    for name in action["bindings"]:
        assert "${" + name + "}" in action["command"]


def test_a_command_nested_hundreds_deep_is_an_error_not_a_crash() -> None:
    n = 400
    parts = ("echo " + "$(cat <<E\n" * n, H, "\nE\n)" * n)
    assert codes(*parts) == ["E0412"]
