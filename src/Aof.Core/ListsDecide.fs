namespace Aof.Core

// SKELETON: the list helper fills this in.

/// The list commands' decisions.
module ListsDecide =
    open Outcome

    let run (_ctx: Ctx) (_ks: Keyspace) (_dbi: int) (_cmd: ListCommand) : struct (Outcome * int) =
        plain (reply (Reply.Error "ERR list commands are not implemented yet"))
