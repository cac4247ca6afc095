namespace Aof.Core

/// The active expiry cycle, as Redis runs it from its timer: sample keys that have a TTL, delete those
/// past their time, and go on while a good share of the sample was expired and the budget lasts.
module Expire =
    /// Keys sampled per round (Redis's ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP).
    let keysPerLoop = 20

    /// One cycle over every database: the DEL facts for the expired keys found. `maxRounds` bounds the
    /// work (the engine's time budget); a round that finds 10% or fewer expired ends that database's turn.
    let activeCycle (now: int64) (rnd: uint64) (maxRounds: int) (ks: Keyspace) : Event list =
        let mutable r = rnd
        let mutable evs = []

        for dbi in 0 .. (Keyspace.databases ks) - 1 do
            // A draft: the server applies the DEL facts to the real keyspace.
            let mutable db = Db.draft (Keyspace.db dbi ks)
            let mutable rounds = 0
            let mutable go = not (Champ.isEmpty db.Expires)

            while go && rounds < maxRounds do
                let mutable found = 0
                let sample = min keysPerLoop (Champ.count db.Expires)

                for _ in 1..sample do
                    r <- SplitMix.next r

                    match Champ.randomEntry r db.Expires with
                    | ValueSome(k, at) when at <= now ->
                        db <- Db.remove k db
                        evs <- { Db = dbi; Op = Op.Del [| k |] } :: evs
                        found <- found + 1
                    | _ -> ()

                rounds <- rounds + 1
                go <- sample > 0 && found * 10 > sample && not (Champ.isEmpty db.Expires)

        List.rev evs
