namespace Aof.Core

/// The list commands' decisions: the reply Redis 7.0 gives and the ops (see Lists.fs) that record it.
/// Keyspace hits and misses are counted by the reading commands only: Redis 7.0 does not count the
/// lookups of writing commands (checked on redis-server 7.0.15 with INFO stats).
module ListsDecide =
    open Outcome

    /// What a key holds, as far as a list command cares.
    let private find (db: Db) (k: byte[]) : Lookup<PList> =
        Lookup.find (fun v -> match v with Value.List l -> ValueSome l | _ -> ValueNone) db k

    let private bulks (xs: byte[][]) = Reply.Array(Array.map Reply.Bulk xs)
    let private len (l: PList) = Reply.Integer(int64 (PList.count l))
    let private op dbi (o: ListOp) = evt dbi (Op.Lists o)

    let private push dbi db k (vs: byte[][]) left onlyIfExists =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing when onlyIfExists -> reply Reply.zero
        | Missing -> write (Reply.Integer(int64 vs.Length)) [ op dbi (ListOp.Push(k, vs, left, false)) ]
        | Found(l, _) ->
            write (Reply.Integer(int64 (PList.count l + vs.Length))) [ op dbi (ListOp.Push(k, vs, left, false)) ]

    /// The count a pop can actually take, as a logged op's count.
    let private clamp (l: PList) (count: int64) = int (min count (int64 (PList.count l)))

    /// The `c` elements a pop would take, in the order it takes them, without building what is left.
    let private peek (l: PList) (c: int) (left: bool) : byte[][] =
        if left then PList.slice 0 c l else Array.rev (PList.slice (PList.count l - c) c l)

    let private pop dbi db k left (count: int64 voption) =
        match find db k, count with
        | WrongType, _ -> reply Reply.wrongType
        | Missing, ValueNone -> reply Reply.Nil
        | Missing, ValueSome _ -> reply Reply.NilArray
        | Found _, ValueSome 0L -> reply Reply.emptyArray
        | Found(l, _), _ ->
            let c = clamp l (ValueOption.defaultValue 1L count)
            let r =
                match count with
                | ValueSome _ -> bulks (peek l c left)
                | ValueNone -> Reply.Bulk(if left then PList.head l else PList.last l)
            write r [ op dbi (ListOp.Pop(k, int64 c, left)) ]

    let private range db k start stop =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false Reply.emptyArray
        | Found(l, _) ->
            let struct (first, count) = ListIndex.range (PList.count l) start stop
            read true (bulks (PList.slice first count l))

    let private index db k (i: int64 voption) =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false Reply.Nil
        | Found(_, _) when i.IsNone -> reply Reply.notInteger
        | Found(l, _) ->
            match ListIndex.resolve (PList.count l) i.Value with
            | ValueSome j -> read true (Reply.Bulk(PList.item j l))
            | ValueNone -> read true Reply.Nil

    let private lset dbi db k (i: int64 voption) v =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing -> reply Reply.noSuchKey
        | Found(_, _) when i.IsNone -> reply Reply.notInteger
        | Found(l, _) ->
            match ListIndex.resolve (PList.count l) i.Value with
            | ValueSome _ -> write Reply.ok [ op dbi (ListOp.Set(k, i.Value, v)) ]
            | ValueNone -> reply (Reply.err "ERR index out of range")

    let private rem dbi db k count v =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing -> reply Reply.zero
        | Found(l, _) ->
            let struct (_, removed) = ListOp.remove l count v
            if removed = 0 then reply Reply.zero
            else write (Reply.Integer(int64 removed)) [ op dbi (ListOp.Rem(k, count, v)) ]

    let private trim dbi db k start stop =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing -> reply Reply.ok
        | Found(l, _) ->
            let struct (_, count) = ListIndex.range (PList.count l) start stop
            // Keeping everything is no change, and so no fact.
            if count = PList.count l then reply Reply.ok
            else write Reply.ok [ op dbi (ListOp.Trim(k, start, stop)) ]

    let private insert dbi db k before pivot v =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing -> reply Reply.zero
        | Found(l, _) ->
            match ListOp.indexOf pivot l with
            | ValueSome _ -> write (Reply.Integer(int64 (PList.count l + 1))) [ op dbi (ListOp.Insert(k, before, pivot, v)) ]
            | ValueNone -> reply (Reply.Integer -1L)

    /// LPOS: matches counted from the head (rank > 0) or the tail (rank < 0), looking at no more than
    /// maxLen elements.
    let private lpos db k (el: byte[]) (rank: int64) (count: int64 voption) (maxLen: int64) =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false (if count.IsSome then Reply.emptyArray else Reply.Nil)
        | Found(l, _) ->
            let n = PList.count l
            let fromTail = rank < 0L
            // Redis negates the rank in 64 bits: the most negative one stays negative and so skips nothing.
            let skip = if rank = System.Int64.MinValue then 0L elif fromTail then -rank - 1L else rank - 1L
            let want = match count with ValueSome 0L -> System.Int64.MaxValue | ValueSome c -> c | ValueNone -> 1L
            let limit = if maxLen = 0L then int64 n else min maxLen (int64 n)
            let found = ResizeArray<int64>()
            let mutable seen = 0L
            let mutable matches = 0L
            use e = (if fromTail then PList.toSeqBack l else PList.toSeq l).GetEnumerator()

            while seen < limit && int64 found.Count < want && e.MoveNext() do
                if Bytes.equal e.Current el then
                    matches <- matches + 1L
                    if matches > skip then found.Add(if fromTail then int64 n - 1L - seen else seen)

                seen <- seen + 1L

            match count with
            | ValueSome _ -> read true (Reply.Array [| for i in found -> Reply.Integer i |])
            | ValueNone -> read true (if found.Count = 0 then Reply.Nil else Reply.Integer found[0])

    /// LMOVE and friends. The destination's type is checked before anything is popped.
    let private move dbi db src dst fromLeft toLeft (blocking: bool) =
        match find db src with
        | WrongType -> reply Reply.wrongType
        | Missing -> if blocking then blocked else reply Reply.Nil
        | Found(l, _) ->
            match find db dst with
            | WrongType -> reply Reply.wrongType
            | _ ->
                let x = if fromLeft then PList.head l else PList.last l
                write (Reply.Bulk x) [ op dbi (ListOp.Move(src, dst, fromLeft, toLeft)) ]

    /// The first key, in order, that holds a list; a key of another type met first is an error.
    let private firstList (db: Db) (keys: byte[][]) : Result<struct (byte[] * PList) voption, Reply> =
        let rec go i =
            if i = keys.Length then Ok ValueNone
            else
                match find db keys[i] with
                | WrongType -> Error Reply.wrongType
                | Missing -> go (i + 1)
                | Found(l, _) -> Ok(ValueSome(struct (keys[i], l)))

        go 0

    let private mpop dbi db keys left (count: int64) (blocking: bool) =
        match firstList db keys with
        | Error e -> reply e
        | Ok ValueNone -> if blocking then blocked else reply Reply.NilArray
        | Ok(ValueSome(struct (k, l))) ->
            let c = clamp l count
            write (Reply.Array [| Reply.Bulk k; bulks (peek l c left) |]) [ op dbi (ListOp.Pop(k, int64 c, left)) ]

    let private bpop dbi db keys left =
        match firstList db keys with
        | Error e -> reply e
        | Ok ValueNone -> blocked
        | Ok(ValueSome(struct (k, l))) ->
            let x = if left then PList.head l else PList.last l
            write (Reply.Array [| Reply.Bulk k; Reply.Bulk x |]) [ op dbi (ListOp.Pop(k, 1L, left)) ]

    let run (_ctx: Ctx) (ks: Keyspace) (dbi: int) (cmd: ListCommand) : struct (Outcome * int) =
        let db = Keyspace.db dbi ks

        match cmd with
        | ListCommand.Push(k, vs, left, x) -> plain (push dbi db k vs left x)
        | ListCommand.Pop(k, left, count) -> plain (pop dbi db k left count)
        | ListCommand.Len k ->
            match find db k with
            | WrongType -> plain (reply Reply.wrongType)
            | Missing -> plain (read false Reply.zero)
            | Found(l, _) -> plain (read true (len l))
        | ListCommand.Range(k, s, e) -> plain (range db k s e)
        | ListCommand.Index(k, i) -> plain (index db k i)
        | ListCommand.Set(k, i, v) -> plain (lset dbi db k i v)
        | ListCommand.Rem(k, c, v) -> plain (rem dbi db k c v)
        | ListCommand.Trim(k, s, e) -> plain (trim dbi db k s e)
        | ListCommand.Insert(k, before, p, v) -> plain (insert dbi db k before p v)
        | ListCommand.Pos(k, el, rank, count, maxLen) -> plain (lpos db k el rank count maxLen)
        | ListCommand.Move(s, d, f, t, timeout) -> plain (move dbi db s d f t timeout.IsSome)
        | ListCommand.MPop(keys, left, count, timeout) -> plain (mpop dbi db keys left count timeout.IsSome)
        | ListCommand.BPop(keys, left, _) -> plain (bpop dbi db keys left)
