"""``ProviderSettings``: one provider of the settings (public in ``failover.settings``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from failover._config.checks import (
    check_metadata,
    checked_base_url,
    checked_fields,
    checked_kind,
    checked_name,
    checked_rate_limits,
    env_name,
    flag,
    optional_text,
)
from failover._config.policy import checked_policy_file, policy_table, policy_table_in
from failover._config.ranges import (
    checked_options,
    checked_priority,
    checked_weight,
    options_in,
    own_interval,
    own_timeout,
    rate_limits_in,
)

__all__ = ["ProviderSettings"]


@attrs.frozen(field_transformer=checked_fields)
class ProviderSettings:
    """One provider: what to build and how to guard it.

    ``kind`` is checked against the provider registry when the provider is built
    (``failover.registry.build_provider``), not when settings are read: settings may be read
    before the ``providers`` package (or your own code) has registered its kinds.

    Attributes:
        name: A unique name (breakers, events, metrics and status use it).
        kind: Which factory builds it: "gemini", "gemini-sdk", "brave", "openai", "callable", or
            a kind registered with ``failover.registry.register_provider``.
        model: The model to ask, for LLM providers.
        base_url: Overrides the provider's endpoint (an http or https URL, no credentials).
        api_key_env: The NAME of the environment variable that holds the API key, never the
            key itself (upper-case letters, digits and _).
        priority: The provider's rank for the "priority" strategy and the default strategy's
            tie-break; higher numbers are preferred (default 0).
        weight: Its share for the "weighted_random" strategy (a number > 0).
        policy: This provider's policy table, in the policy format that ``failover verify``
            and ``failover simulate`` read (docs/reference/policy-files.md): BreakerPolicy
            fields (``window`` is ``{size = N}`` or ``{seconds = T, buckets = B}``),
            ``trip_condition``, custom ``states`` and ``transitions``; it changes the global
            policy (or the ``policy_file``'s).
        policy_file: A policy file (its ``[policy]`` table) to start from instead of the
            global policy; a relative path is relative to the settings file.
        health_check_interval: Seconds between this provider's health checks, or "off" for
            none (a check may be a billed request: Brave's is a search); None: the global one.
        health_check_timeout: Seconds this provider's check may take; None: the global one.
        rate_limits: Some of per_minute, per_day and tokens_per_minute (an int >= 1, or
            "unlimited"); the others come from the global settings.
        options: Anything else the provider's factory reads (no credentials).
        fallback: True for a fallback (basic mode): never ranked by the strategy, sent a
            request only when no other provider admits it or all have failed it
            (``Coordinator(fallback=...)``); at least one provider must not be one.
    """

    name: str = attrs.field(metadata=check_metadata(checked_name))
    kind: str = attrs.field(metadata=check_metadata(checked_kind))
    model: str | None = attrs.field(default=None, metadata=check_metadata(optional_text))
    base_url: str | None = attrs.field(default=None, metadata=check_metadata(checked_base_url))
    api_key_env: str | None = attrs.field(default=None, metadata=check_metadata(env_name))
    priority: float = attrs.field(default=0, metadata=check_metadata(checked_priority))
    weight: float = attrs.field(default=1.0, metadata=check_metadata(checked_weight))
    policy: Mapping[str, object] = attrs.field(
        factory=dict, converter=policy_table_in, metadata=check_metadata(policy_table), hash=False
    )
    policy_file: str | None = attrs.field(
        default=None, metadata=check_metadata(checked_policy_file)
    )
    health_check_interval: float | str | None = attrs.field(
        default=None, metadata=check_metadata(own_interval)
    )
    health_check_timeout: float | None = attrs.field(
        default=None, metadata=check_metadata(own_timeout)
    )
    rate_limits: Mapping[str, int | None] = attrs.field(
        factory=dict,
        converter=rate_limits_in,
        metadata=check_metadata(checked_rate_limits),
        hash=False,
    )
    options: Mapping[str, object] = attrs.field(
        factory=dict, converter=options_in, metadata=check_metadata(checked_options), hash=False
    )
    fallback: bool = attrs.field(default=False, metadata=check_metadata(flag))

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The API key, read now from the variable named by ``api_key_env``.

        Args:
            environ: Where to read it; ``os.environ`` when None.

        Returns:
            The key without surrounding whitespace; None when no variable is named, or it is
            unset or empty.
        """
        if self.api_key_env is None:
            return None
        value = (os.environ if environ is None else environ).get(self.api_key_env, "")
        return value.strip() or None


ProviderSettings.__module__ = "failover.settings"
