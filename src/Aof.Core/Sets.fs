namespace Aof.Core

// SKELETON: the set helper fills in the commands, ops, parsing, evolve and projection.

/// A set command, parsed with Redis 7.0's arity and syntax errors.
[<RequireQualifiedAccess>]
type SetCommand =
    | Unimplemented

/// A deterministic set fact, exactly as it lands in the AOF (commands real Redis 7 also reads).
[<RequireQualifiedAccess>]
type SetOp =
    | Unimplemented

module SetCommand =
    /// (name, arity, writes, parser): joined into the command table.
    let specs: (string * int * bool * (byte[][] -> Result<SetCommand, Reply>)) list = []

    /// The keys of the session's database the command reads or writes: lazy expiry purges these first,
    /// and a blocking command waits on them.
    let keys (_cmd: SetCommand) : byte[][] = [||]

module SetOp =
    /// The RESP command that records the op.
    let toArgs (_op: SetOp) : byte[][] = [||]

    /// Reads back a logged command whose lower-cased name is `name`; ValueNone when it is not a set command.
    let ofArgs (_name: string) (_args: byte[][]) : Result<SetOp, unit> voption = ValueNone

    /// The keys the op writes: clients blocked on them are looked at again.
    let keys (_op: SetOp) : byte[][] = [||]

    /// evolve, within the op's database. An emptied collection disappears.
    let apply (_op: SetOp) (db: Db) : Db = db

    /// The rewrite of one key: the fewest ops that rebuild the value, at most 64 elements each.
    let project (_key: byte[]) (_s: ChampMap<unit>) : SetOp list = []
