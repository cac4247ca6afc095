namespace Aof.Core

// SKELETON: the hash helper fills this in.

/// The hash commands' decisions.
module HashesDecide =
    open Outcome

    let run (_ctx: Ctx) (_ks: Keyspace) (_dbi: int) (_cmd: HashCommand) : struct (Outcome * int) =
        plain (reply (Reply.Error "ERR hash commands are not implemented yet"))
