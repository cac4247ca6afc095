namespace Aof.Core

// SKELETON: the hash helper fills in the commands, ops, parsing, evolve and projection.

/// A hash command, parsed with Redis 7.0's arity and syntax errors.
[<RequireQualifiedAccess>]
type HashCommand =
    | Unimplemented

/// A deterministic hash fact, exactly as it lands in the AOF (commands real Redis 7 also reads).
[<RequireQualifiedAccess>]
type HashOp =
    | Unimplemented

module HashCommand =
    /// (name, arity, writes, parser): joined into the command table.
    let specs: (string * int * bool * (byte[][] -> Result<HashCommand, Reply>)) list = []

    /// The keys of the session's database the command reads or writes: lazy expiry purges these first,
    /// and a blocking command waits on them.
    let keys (_cmd: HashCommand) : byte[][] = [||]

module HashOp =
    /// The RESP command that records the op.
    let toArgs (_op: HashOp) : byte[][] = [||]

    /// Reads back a logged command whose lower-cased name is `name`; ValueNone when it is not a hash command.
    let ofArgs (_name: string) (_args: byte[][]) : Result<HashOp, unit> voption = ValueNone

    /// The keys the op writes: clients blocked on them are looked at again.
    let keys (_op: HashOp) : byte[][] = [||]

    /// evolve, within the op's database. An emptied collection disappears.
    let apply (_op: HashOp) (db: Db) : Db = db

    /// The rewrite of one key: the fewest ops that rebuild the value, at most 64 elements each.
    let project (_key: byte[]) (_h: ChampMap<byte[]>) : HashOp list = []
