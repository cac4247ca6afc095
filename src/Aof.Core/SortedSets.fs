namespace Aof.Core

// SKELETON: the sorted-set helper fills in the commands, ops, parsing, evolve and projection.

/// A sorted-set command, parsed with Redis 7.0's arity and syntax errors.
[<RequireQualifiedAccess>]
type ZSetCommand =
    | Unimplemented

/// A deterministic sorted-set fact, exactly as it lands in the AOF (commands real Redis 7 also reads).
[<RequireQualifiedAccess>]
type ZSetOp =
    | Unimplemented

module ZSetCommand =
    /// (name, arity, writes, parser): joined into the command table.
    let specs: (string * int * bool * (byte[][] -> Result<ZSetCommand, Reply>)) list = []

    /// The keys of the session's database the command reads or writes: lazy expiry purges these first,
    /// and a blocking command waits on them.
    let keys (_cmd: ZSetCommand) : byte[][] = [||]

    /// For a blocking command: its timeout in seconds (0 = forever) and the reply when it times out (or runs
    /// inside MULTI with nothing to serve). ValueNone for every other command.
    let blocking (_cmd: ZSetCommand) : struct (float * Reply) voption = ValueNone

module ZSetOp =
    /// The RESP command that records the op.
    let toArgs (_op: ZSetOp) : byte[][] = [||]

    /// Reads back a logged command whose lower-cased name is `name`; ValueNone when it is not a sorted-set command.
    let ofArgs (_name: string) (_args: byte[][]) : Result<ZSetOp, unit> voption = ValueNone

    /// The keys the op writes: clients blocked on them are looked at again.
    let keys (_op: ZSetOp) : byte[][] = [||]

    /// evolve, within the op's database. An emptied collection disappears.
    let apply (_op: ZSetOp) (db: Db) : Db = db

    /// The rewrite of one key: the fewest ops that rebuild the value, at most 64 elements each.
    let project (_key: byte[]) (_z: ZSet) : ZSetOp list = []
