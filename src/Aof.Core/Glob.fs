namespace Aof.Core

// PLACEHOLDER: replaced by a full implementation of Redis's glob rules.

/// Redis's glob patterns (KEYS, SCAN MATCH, CONFIG GET): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`.
module Glob =
    let isMatch (pattern: byte[]) (subject: byte[]) (noCase: bool) : bool =
        ignore noCase
        pattern = "*"B || Bytes.equal pattern subject
