"""Users: interest tags from behaviour, and the LLM taste profile they can read, edit and delete."""

from mediarec.users.interests import (
    HistoryItem,
    HistoryOptions,
    Interest,
    UserHistory,
    compute_interests,
    load_history,
    normalise_tag,
    user_interests,
)
from mediarec.users.manage import (
    delete_profile,
    draft_profile,
    edit_profile,
    forget_results,
    generate_profile,
    save_draft,
    shown_profile,
)
from mediarec.users.profile import (
    PROFILE_SCHEMA,
    PROMPT_VERSION,
    NoHistoryError,
    ProfileDraft,
    ProfileOptions,
    TasteProfile,
    build_prompt,
)

__all__ = [
    "PROFILE_SCHEMA",
    "PROMPT_VERSION",
    "HistoryItem",
    "HistoryOptions",
    "Interest",
    "NoHistoryError",
    "ProfileDraft",
    "ProfileOptions",
    "TasteProfile",
    "UserHistory",
    "build_prompt",
    "compute_interests",
    "delete_profile",
    "draft_profile",
    "edit_profile",
    "forget_results",
    "generate_profile",
    "load_history",
    "normalise_tag",
    "save_draft",
    "shown_profile",
    "user_interests",
]
