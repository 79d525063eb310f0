"""Checks across objects of a menu: references, reachability, loops, shadowing."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from .model import (
    SPECIAL_OPTIONS,
    Context,
    HangupRule,
    Ivr,
    JumpToContext,
    Menu,
    PlayDigits,
    PlayDigitsFromVariable,
    PlaySilence,
    PlaySound,
    QualityRate,
    RecordDigits,
    Rule,
    SetVariable,
    SimpleTransfer,
    TransferRule,
    VoiceHelper,
)
from .problems import Path, Problem
from .switch_variables import refusal

# transfer_from_variable is not here: when its variable holds no number the call
# skips it, at once, to the next rule. voice_helper always ends in an option of
# its context (a route's, invalid or timeout) where the switch recognises speech.
ENDS_OPTION = (TransferRule, SimpleTransfer, HangupRule, JumpToContext, VoiceHelper)
TAKES_TIME = (PlaySound, PlaySilence, PlayDigits, PlayDigitsFromVariable, RecordDigits, QualityRate, VoiceHelper)


def check_menu(menu: Menu, allowed_variables: Collection[str] = ()) -> list[Problem]:
    """Problems across the menu; `allowed_variables`: switch-acting names the operator permits."""
    problems = list(_unique_ids(menu))
    known_sounds = {sound.id for sound in menu.sounds}
    for i, ivr in enumerate(menu.ivrs):
        problems.extend(check_ivr(ivr, ("ivrs", i), known_sounds, allowed_variables))
    return problems


def _unique_ids(menu: Menu) -> Iterator[Problem]:
    seen: set[int] = set()
    for i, sound in enumerate(menu.sounds):
        if sound.id in seen:
            yield Problem(("sounds", i, "id"), f"sound id {sound.id} is used twice; ids must be unique")
        seen.add(sound.id)
    extensions: set[str] = set()
    for i, ivr in enumerate(menu.ivrs):
        if ivr.extension in extensions:
            yield Problem(("ivrs", i, "extension"), f"extension {ivr.extension!r} has two ivrs; keep one")
        extensions.add(ivr.extension)


def check_ivr(
    ivr: Ivr, at: Path, known_sounds: set[int] | None, allowed_variables: Collection[str] = ()
) -> list[Problem]:
    """Problems of one ivr; `known_sounds` None when the sounds themselves did not load."""
    problems: list[Problem] = []
    ids = [context.id for context in ivr.contexts]
    for i, context in enumerate(ivr.contexts):
        if ids.count(context.id) > 1 and ids.index(context.id) < i:
            problems.append(Problem(at + ("contexts", i, "id"), f"context id {context.id} is used twice"))
    if ivr.context(ivr.entry_context) is None:
        problems.append(
            Problem(
                at + ("entry_context",),
                f"entry_context {ivr.entry_context} names no context of this ivr; "
                f"set it to one of {sorted(ids) or 'the ids of its contexts (none defined)'}",
            )
        )
    if ivr.lifetime_exp_action == "transfer" and not ivr.lifetime_exp_transfer_dst:
        problems.append(
            Problem(
                at + ("lifetime_exp_transfer_dst",),
                "lifetime_exp_action is transfer but no lifetime_exp_transfer_dst is set",
            )
        )
    if ivr.vm_enabled and ivr.vm_greeting and known_sounds is not None and ivr.vm_greeting not in known_sounds:
        problems.append(
            Problem(at + ("vm_greeting",), f"vm_greeting {ivr.vm_greeting} names no sound; voicemail plays no greeting", "warning")
        )
    for i, context in enumerate(ivr.contexts):
        problems.extend(_check_context(ivr, context, at + ("contexts", i), known_sounds, allowed_variables))
    problems.extend(_unreachable(ivr, at))
    problems.extend(_silent_loops(ivr, at))
    return problems


def _check_context(
    ivr: Ivr, context: Context, at: Path, known_sounds: set[int] | None, allowed_variables: Collection[str]
) -> Iterator[Problem]:
    for key in context.digit_options:
        if len(key) > context.digit_len:
            yield Problem(
                at + ("options", key),
                f"option {key!r} has {len(key)} digits but digit_len is {context.digit_len}, "
                "so it can never be reached; raise digit_len or shorten the option",
            )
        elif context.allow_any_dial and len(key) == context.digit_len:
            yield Problem(
                at + ("options", key),
                f"option {key!r} shadows the internal number {key} for direct dial "
                "(options win over allow_any_dial)",
                "warning",
            )
    for key, rules in context.options.items():
        yield from _check_rules(ivr, context, rules, at + ("options", key), known_sounds, allowed_variables)


def _check_rules(
    ivr: Ivr,
    context: Context,
    rules: tuple[Rule, ...],
    at: Path,
    known_sounds: set[int] | None,
    allowed_variables: Collection[str],
) -> Iterator[Problem]:
    ended_at: int | None = None
    for j, rule in enumerate(rules):
        here = at + (j,)
        if ended_at is not None:
            yield Problem(here, f"never runs: rule {ended_at} ({rules[ended_at].action}) ends the option", "warning")
        for field, sound_id in _sound_refs(rule):
            if known_sounds is not None and sound_id not in known_sounds:
                yield Problem(
                    here + (field,),
                    f"sound {sound_id} is not in sounds; add it there or use one of {sorted(known_sounds)}",
                )
        if isinstance(rule, JumpToContext):
            yield from _check_jump(ivr, rule, here)
        if isinstance(rule, VoiceHelper):
            yield from _check_routes(context, rule, here)
        yield from _check_written_variable(rule, here, allowed_variables)
        if isinstance(rule, ENDS_OPTION) and ended_at is None:
            ended_at = j


def _check_written_variable(rule: Rule, at: Path, allowed: Collection[str]) -> Iterator[Problem]:
    # The variables a rule exports to the channel; those it only reads never reach the switch.
    if isinstance(rule, SetVariable):
        field, name = "set_variable_name", rule.set_variable_name
    elif isinstance(rule, RecordDigits):
        field, name = "record_digits_variable", rule.record_digits_variable
    else:
        return
    reason = refusal(name, allowed)
    if reason is not None:
        yield Problem(at + (field,), f"{reason}; a menu may not set it: use another name, "
                      "or have the operator allow this name explicitly")


def _sound_refs(rule: Rule) -> Iterator[tuple[str, int]]:
    if isinstance(rule, (PlaySound, QualityRate)):
        yield "sound", rule.sound
    elif isinstance(rule, VoiceHelper) and rule.sound is not None:
        yield "sound", rule.sound
    elif isinstance(rule, RecordDigits) and rule.record_digits_sound is not None:
        yield "record_digits_sound", rule.record_digits_sound


def _check_routes(context: Context, rule: VoiceHelper, at: Path) -> Iterator[Problem]:
    for k, route in enumerate(rule.voice_helper_rules):
        if route.to_option not in context.options:
            yield Problem(
                at + ("voice_helper_rules", k, "to_option"),
                f"voice_helper routes to option {route.to_option!r}, which context {context.id} does not have; "
                f"add it or use one of {list(context.options)}",
            )


def speech_problems(menu: Menu) -> list[Problem]:
    """What a menu needs of a runtime without speech recognition: each voice_helper is an error."""
    return [
        Problem(
            ("ivrs", i, "contexts", c, "options", key, j),
            "voice_helper needs the switch's speech recognition, and none is configured: set speech_engine "
            "(and speech_grammar) in the daemon's settings, or remove this rule",
        )
        for i, ivr in enumerate(menu.ivrs)
        for c, context in enumerate(ivr.contexts)
        for key, rules in context.options.items()
        for j, rule in enumerate(rules)
        if isinstance(rule, VoiceHelper)
    ]


def _check_jump(ivr: Ivr, rule: JumpToContext, at: Path) -> Iterator[Problem]:
    target = ivr.context(rule.context)
    if target is None:
        yield Problem(
            at + ("context",),
            f"jump_to_context targets context {rule.context}, which this ivr does not have; "
            f"use one of {sorted(c.id for c in ivr.contexts)}",
        )
    elif rule.context_option not in SPECIAL_OPTIONS and rule.context_option not in target.options:
        yield Problem(
            at + ("context_option",),
            f"context {rule.context} has no option {rule.context_option!r}; "
            f"use start, timeout, invalid or one of {list(target.digit_options)}",
        )


def _jumps(context: Context) -> Iterator[tuple[str, JumpToContext]]:
    for key, rules in context.options.items():
        for rule in rules:
            if isinstance(rule, JumpToContext):
                yield key, rule


def _unreachable(ivr: Ivr, at: Path) -> Iterator[Problem]:
    reached = {ivr.entry_context}
    todo = [ivr.entry_context]
    while todo:
        context = ivr.context(todo.pop())
        if context is None:
            continue
        for _, jump in _jumps(context):
            if jump.context not in reached:
                reached.add(jump.context)
                todo.append(jump.context)
    for i, context in enumerate(ivr.contexts):
        if context.id not in reached:
            yield Problem(
                at + ("contexts", i),
                f"context {context.id} ({context.name or 'unnamed'}) is never reached: "
                "no jump_to_context leads to it from the entry context",
                "warning",
            )


def _instant_exit(context: Context, key: str, rules: tuple[Rule, ...]) -> tuple[int, str] | None:
    """Where an option goes without any time passing, if it does."""
    for rule in rules:
        if isinstance(rule, JumpToContext):
            return rule.context, rule.context_option
        if isinstance(rule, TAKES_TIME + ENDS_OPTION):
            return None
    if key == "start" and context.timeout == 0:
        return context.id, "timeout"  # waiting 0 ms for input is no wait
    return None


def _silent_loops(ivr: Ivr, at: Path) -> Iterator[Problem]:
    """Jumps that come back to where they started without playing or waiting would spin forever."""
    edges: dict[tuple[int, str], tuple[int, str]] = {}
    for context in ivr.contexts:
        for key, rules in context.options.items():
            target = _instant_exit(context, key, rules)
            if target is not None:
                edges[(context.id, key)] = target
    reported: set[tuple[int, str]] = set()
    for start in edges:
        seen = [start]
        node = edges.get(start)
        while node is not None and node not in seen:
            seen.append(node)
            node = edges.get(node)
        if node == start and not reported.intersection(seen):
            reported.update(seen)
            cycle = " -> ".join(f"context {c} option {o!r}" for c, o in seen + [start])
            index = next(i for i, c in enumerate(ivr.contexts) if c.id == start[0])
            yield Problem(
                at + ("contexts", index, "options", start[1]),
                f"jumps loop without playing or waiting for anything: {cycle}; "
                "add a sound or an input wait to the loop",
            )
