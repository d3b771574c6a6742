// Moving an unusable database aside (corrupt, or written by a newer Tokamak)
// so that a fresh one can be created at its path, when the user agrees.
//
//   <path>        ─► <path>.<reason>-<UTC stamp>        (e.g. tokamak.db.corrupt-20261121T130512Z)
//   <path>-wal    ─► <path>.<reason>-<UTC stamp>-wal    (its journal files go with it: a stale
//   <path>-shm    ─► <path>.<reason>-<UTC stamp>-shm     WAL left behind would be replayed into
//   <path>-journal─► ...                                  the fresh file)
//
// Nothing is copied or rewritten: the bytes stay as they were, under the new
// name. Only renames within the folder, so it is quick and never half-copies.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace tokamak {

// Renames `path` and its journal files aside and returns the new name of the
// main file. `reason` becomes part of the name ("corrupt", "newer", ...).
// NotFound when `path` does not exist; IoError when a rename fails (the files
// already moved are moved back, so the database is where it was).
Result<std::string> move_database_aside(const std::string& path, std::string_view reason);

}  // namespace tokamak
