namespace Aof.Core

open System

/// What a decision may consult besides the state: the clock and chance come in from the engine.
[<Struct>]
type Ctx =
    { /// Unix time in milliseconds, fixed for the whole command (Redis's command time snapshot).
      Now: int64
      /// Unix time in microseconds, for TIME.
      NowMicros: int64
      /// A fresh random number for this command (RANDOMKEY, SPOP, SRANDMEMBER, ...).
      Random: uint64
      /// `proto-max-bulk-len`: the largest string APPEND and SETRANGE may build.
      MaxBulkLen: int64 }

/// The outcome of one command: the reply, the facts to log and apply, and counters for INFO.
[<Struct>]
type Decision =
    { Reply: Reply
      Events: Event list
      Hits: int
      Misses: int
      /// Keys found expired (lazy expiry) and deleted by this command.
      Expired: int
      /// A blocking command found nothing to serve: the engine parks the client on the command's keys
      /// (or, inside MULTI, answers the command's `Command.blocking` reply). `Reply` and `Events` are empty then.
      Blocked: bool }

/// One command's result as the per-command deciders build it.
[<Struct>]
type Outcome =
    { R: Reply
      Evs: Event list
      H: int
      M: int
      Block: bool }

/// What a collection command finds at its key: nothing, the value it works on with the key's expiry, or a
/// value of another type (WRONGTYPE). A struct, so a lookup allocates nothing.
[<Struct>]
type Lookup<'T> =
    | Missing
    | Found of value: 'T * expireAt: int64
    | WrongType

module Lookup =
    /// The key's value if `pick` recognises its type.
    let inline find ([<InlineIfLambda>] pick: Value -> 'T voption) (db: Db) (key: byte[]) : Lookup<'T> =
        match Db.tryFind key db with
        | ValueNone -> Missing
        | ValueSome e ->
            match pick e.Value with
            | ValueSome v -> Found(v, e.ExpireAt)
            | ValueNone -> WrongType

/// Small builders the deciders share.
module Outcome =
    let reply r = { R = r; Evs = []; H = 0; M = 0; Block = false }
    let read (found: bool) r = { R = r; Evs = []; H = (if found then 1 else 0); M = (if found then 0 else 1); Block = false }
    let write r evs = { R = r; Evs = evs; H = 0; M = 0; Block = false }
    /// A blocking command with nothing to serve yet.
    let blocked = { R = Reply.Nil; Evs = []; H = 0; M = 0; Block = true }
    let inline evt (dbi: int) (op: Op) : Event = { Db = dbi; Op = op }
    /// An outcome that deleted no expired keys of other databases.
    let inline plain (o: Outcome) = struct (o, 0)
