namespace Aof.Core

// SKELETON: the set helper fills this in.

/// The set commands' decisions.
module SetsDecide =
    open Outcome

    let run (_ctx: Ctx) (_ks: Keyspace) (_dbi: int) (_cmd: SetCommand) : struct (Outcome * int) =
        plain (reply (Reply.Error "ERR set commands are not implemented yet"))
