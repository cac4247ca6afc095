namespace Aof.Core

// SKELETON: the list helper fills in the commands, ops, parsing, evolve and projection.

/// A list command, parsed with Redis 7.0's arity and syntax errors.
[<RequireQualifiedAccess>]
type ListCommand =
    | Unimplemented

/// A deterministic list fact, exactly as it lands in the AOF (commands real Redis 7 also reads).
[<RequireQualifiedAccess>]
type ListOp =
    | Unimplemented

module ListCommand =
    /// (name, arity, writes, parser): joined into the command table.
    let specs: (string * int * bool * (byte[][] -> Result<ListCommand, Reply>)) list = []

    /// The keys of the session's database the command reads or writes: lazy expiry purges these first,
    /// and a blocking command waits on them.
    let keys (_cmd: ListCommand) : byte[][] = [||]

    /// For a blocking command: its timeout in seconds (0 = forever) and the reply when it times out (or runs
    /// inside MULTI with nothing to serve). ValueNone for every other command.
    let blocking (_cmd: ListCommand) : struct (float * Reply) voption = ValueNone

module ListOp =
    /// The RESP command that records the op.
    let toArgs (_op: ListOp) : byte[][] = [||]

    /// Reads back a logged command whose lower-cased name is `name`; ValueNone when it is not a list command.
    let ofArgs (_name: string) (_args: byte[][]) : Result<ListOp, unit> voption = ValueNone

    /// The keys the op writes: clients blocked on them are looked at again.
    let keys (_op: ListOp) : byte[][] = [||]

    /// evolve, within the op's database. An emptied collection disappears.
    let apply (_op: ListOp) (db: Db) : Db = db

    /// The rewrite of one key: the fewest ops that rebuild the value, at most 64 elements each.
    let project (_key: byte[]) (_l: PList) : ListOp list = []
