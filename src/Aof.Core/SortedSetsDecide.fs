namespace Aof.Core

// SKELETON: the sorted-set helper fills this in.

/// The sorted-set commands' decisions.
module SortedSetsDecide =
    open Outcome

    let run (_ctx: Ctx) (_ks: Keyspace) (_dbi: int) (_cmd: ZSetCommand) : struct (Outcome * int) =
        plain (reply (Reply.Error "ERR sorted-set commands are not implemented yet"))
