"""Every static rule and lint warning of the checker, one per module, run in
the order of `RULES` (names, then types and calls, then structure, then lint).

Each module defines `RULE`: its code, a kebab-case name, a one-line
description and a severity, registered here in `chatflow.diagnostic_codes`
(the one registry of codes). `REGISTRY` lists them as plain dicts."""

from __future__ import annotations

from chatflow.compiler.rules import (
    action_target,
    after_cycle,
    argument_type,
    builtin_arguments,
    call_field_clash,
    condition_not_bool,
    constant_required,
    default_not_constant,
    duplicate_after,
    duplicate_name,
    duplicate_option,
    duplicate_setting,
    empty_group,
    group_clause,
    import_cycle,
    import_not_found,
    misplaced_setting,
    missing_argument,
    never_runs,
    no_flow,
    not_a_value,
    option_not_for_action,
    option_value,
    optional_member_access,
    optional_value,
    output_bound_twice,
    python_target,
    read_before_run,
    reserved_env_name,
    reserved_output,
    risk_on_approve,
    risk_pauses,
    set_target,
    shadowing,
    shell_arith_type,
    shell_env_cleared,
    shell_foreign_code,
    shell_hole_position,
    shell_quoted_heredoc,
    shell_value_as_code,
    type_mismatch,
    unbound_output,
    unknown_action,
    unknown_after,
    unknown_agent,
    unknown_argument,
    unknown_field,
    unknown_flow,
    unknown_function,
    unknown_name,
    unknown_option,
    unknown_output,
    unknown_setting,
    unknown_type,
    unrelated_comparison,
    until_ignores_body,
    unused_out_field,
    unused_param,
    unused_var,
    value_out_of_range,
)
from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostic_codes import register

RULES: tuple[Rule, ...] = (
    no_flow.RULE,                 # E0115 (loader)
    unknown_name.RULE,            # E0201
    duplicate_name.RULE,          # E0202
    unknown_after.RULE,           # E0203
    import_not_found.RULE,        # E0204 (loader)
    import_cycle.RULE,            # E0205 (loader)
    unknown_flow.RULE,            # E0206
    unknown_option.RULE,          # E0207
    unknown_action.RULE,          # E0208
    unknown_setting.RULE,         # E0209
    unknown_field.RULE,           # E0210
    unknown_function.RULE,        # E0211
    unknown_type.RULE,            # E0212
    duplicate_option.RULE,        # E0213
    not_a_value.RULE,             # E0214
    duplicate_setting.RULE,       # E0215
    option_not_for_action.RULE,   # E0216
    option_value.RULE,            # E0217
    action_target.RULE,           # E0218
    type_mismatch.RULE,           # E0301
    optional_value.RULE,          # E0302
    missing_argument.RULE,        # E0303
    unknown_argument.RULE,        # E0304
    argument_type.RULE,           # E0305
    set_target.RULE,              # E0306
    condition_not_bool.RULE,      # E0307
    default_not_constant.RULE,    # E0308
    value_out_of_range.RULE,      # E0309
    builtin_arguments.RULE,       # E0310
    unrelated_comparison.RULE,    # E0311
    optional_member_access.RULE,  # E0312
    constant_required.RULE,       # E0313
    python_target.RULE,           # E0314
    call_field_clash.RULE,        # E0315
    unbound_output.RULE,          # E0401
    output_bound_twice.RULE,      # E0402
    unknown_output.RULE,          # E0403
    after_cycle.RULE,             # E0404
    read_before_run.RULE,         # E0405
    misplaced_setting.RULE,       # E0406
    group_clause.RULE,            # E0407
    shell_hole_position.RULE,     # E0410
    shell_quoted_heredoc.RULE,    # E0411
    shell_value_as_code.RULE,     # E0412
    reserved_env_name.RULE,       # E0413
    shell_arith_type.RULE,        # E0414
    unused_param.RULE,            # W0101
    unused_var.RULE,              # W0102
    unused_out_field.RULE,        # W0103
    never_runs.RULE,              # W0104
    shadowing.RULE,               # W0105
    risk_pauses.RULE,             # W0106
    until_ignores_body.RULE,      # W0107
    empty_group.RULE,             # W0108
    duplicate_after.RULE,         # W0109
    reserved_output.RULE,         # W0110
    risk_on_approve.RULE,         # W0111
    unknown_agent.RULE,           # W0115
    shell_foreign_code.RULE,      # W0120
    shell_env_cleared.RULE,       # W0121
)

BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}

for _rule in RULES:
    register(_rule.code, _rule.name, _rule.description, _rule.severity)

REGISTRY: list[dict[str, str]] = [
    {"code": r.code, "name": r.name, "description": r.description,
     "severity": r.severity.value}
    for r in RULES
]

__all__ = ["BY_CODE", "REGISTRY", "RULES", "FlowContext", "Rule"]
