namespace Aof.Core

open System

// The list family: its commands as parsed from a client, and the few ops that record what they did.
//
// The op set is small and every op is a command real Redis 7 loads from an AOF: LPUSH/RPUSH (LPUSHX and
// RPUSHX are read back too, since Redis logs them as sent), LPOP/RPOP with a count, LSET, LREM, LTRIM,
// LINSERT and LMOVE (RPOPLPUSH is read back as the LMOVE it is). Commands with choices or blocking log the
// plain op they amounted to: LMPOP/BLMPOP/BLPOP/BRPOP → LPOP/RPOP key n, BLMOVE/BRPOPLPUSH → LMOVE.

/// A list command, parsed with Redis 7.0's arity and syntax errors.
[<RequireQualifiedAccess>]
type ListCommand =
    /// LPUSH, RPUSH, LPUSHX, RPUSHX.
    | Push of key: byte[] * values: byte[][] * left: bool * onlyIfExists: bool
    /// LPOP/RPOP key [count]: with a count the reply is an array.
    | Pop of key: byte[] * left: bool * count: int64 voption
    | Len of key: byte[]
    | Range of key: byte[] * start: int64 * stop: int64
    /// LINDEX and LSET carry ValueNone for an index that is not an integer: Redis looks the key up first,
    /// so a missing key or one of another type answers before the index is read.
    | Index of key: byte[] * index: int64 voption
    | Set of key: byte[] * index: int64 voption * value: byte[]
    | Rem of key: byte[] * count: int64 * value: byte[]
    | Trim of key: byte[] * start: int64 * stop: int64
    | Insert of key: byte[] * before: bool * pivot: byte[] * value: byte[]
    /// LPOS; count ValueNone answers one position, ValueSome an array (0 = all); maxLen 0 = no limit.
    | Pos of key: byte[] * element: byte[] * rank: int64 * count: int64 voption * maxLen: int64
    /// LMOVE and RPOPLPUSH; with a timeout, BLMOVE and BRPOPLPUSH.
    | Move of src: byte[] * dst: byte[] * fromLeft: bool * toLeft: bool * timeout: float voption
    /// LMPOP; with a timeout, BLMPOP.
    | MPop of keys: byte[][] * left: bool * count: int64 * timeout: float voption
    /// BLPOP, BRPOP.
    | BPop of keys: byte[][] * left: bool * timeout: float

/// A deterministic list fact, exactly as it lands in the AOF (commands real Redis 7 also reads).
[<RequireQualifiedAccess>]
type ListOp =
    /// LPUSH/RPUSH (LPUSHX/RPUSHX when read from Redis's own files).
    | Push of key: byte[] * values: byte[][] * left: bool * onlyIfExists: bool
    /// LPOP/RPOP key count.
    | Pop of key: byte[] * count: int64 * left: bool
    | Set of key: byte[] * index: int64 * value: byte[]
    | Rem of key: byte[] * count: int64 * value: byte[]
    | Trim of key: byte[] * start: int64 * stop: int64
    | Insert of key: byte[] * before: bool * pivot: byte[] * value: byte[]
    | Move of src: byte[] * dst: byte[] * fromLeft: bool * toLeft: bool

/// Index arithmetic shared by the decisions and evolve, so both read a range the same way.
module ListIndex =
    /// A possibly negative index resolved against the length: ValueNone when outside the list.
    let resolve (len: int) (i: int64) : int voption =
        let j = if i < 0L then int64 len + i else i
        if j >= 0L && j < int64 len then ValueSome(int j) else ValueNone

    /// LRANGE/LTRIM's [start, stop] as (first, count); count 0 when the range is empty.
    let range (len: int) (start: int64) (stop: int64) : struct (int * int) =
        let n = int64 len
        let s = if start < 0L then max 0L (n + start) else start
        let e = if stop < 0L then n + stop else min stop (n - 1L)

        if s > e || s >= n then struct (0, 0) else struct (int s, int (e - s + 1L))

module ListCommand =
    let private isLeft (b: byte[]) : bool voption =
        if Bytes.eqLower "left" b then ValueSome true
        elif Bytes.eqLower "right" b then ValueSome false
        else ValueNone

    let private int64Arg (b: byte[]) : Result<int64, Reply> =
        match Num.tryParseInt64 b with
        | ValueSome n -> Ok n
        | ValueNone -> Error Reply.notInteger

    /// Redis turns the seconds into whole milliseconds in a 64-bit integer: anything that does not fit
    /// (infinity included) wraps negative, and so reads as "negative".
    let parseTimeout (b: byte[]) : Result<float, Reply> =
        match Num.tryParseFloat b with
        | ValueNone -> Error(Reply.err "ERR timeout is not a float or out of range")
        | ValueSome t ->
            let ms = t * 1000.0
            if ms <= -1.0 || ms >= 9.223372036854775807e18 || Double.IsNaN ms then Error(Reply.err "ERR timeout is negative")
            else Ok(max 0.0 t)

    let private pop left (a: byte[][]) =
        if a.Length > 3 then Error(Reply.wrongArity (if left then "lpop" else "rpop"))
        elif a.Length = 2 then Ok(ListCommand.Pop(a[1], left, ValueNone))
        else
            match Num.tryParseInt64 a[2] with
            | ValueSome n when n >= 0L -> Ok(ListCommand.Pop(a[1], left, ValueSome n))
            | _ -> Error(Reply.err "ERR value is out of range, must be positive")

    let private pos (a: byte[][]) =
        let rec opts i rank count maxLen =
            if i = a.Length then Ok(ListCommand.Pos(a[1], a[2], rank, count, maxLen))
            elif i + 1 >= a.Length then Error Reply.syntaxError
            else
                let o, v = a[i], a[i + 1]

                if Bytes.eqLower "rank" o then
                    match Num.tryParseInt64 v with
                    | ValueNone -> Error Reply.notInteger
                    | ValueSome 0L ->
                        Error(
                            Reply.err
                                "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
                        )
                    | ValueSome r -> opts (i + 2) r count maxLen
                elif Bytes.eqLower "count" o then
                    match Num.tryParseInt64 v with
                    | ValueSome c when c >= 0L -> opts (i + 2) rank (ValueSome c) maxLen
                    | _ -> Error(Reply.err "ERR COUNT can't be negative")
                elif Bytes.eqLower "maxlen" o then
                    match Num.tryParseInt64 v with
                    | ValueSome m when m >= 0L -> opts (i + 2) rank count m
                    | _ -> Error(Reply.err "ERR MAXLEN can't be negative")
                else Error Reply.syntaxError

        opts 3 1L ValueNone 0L

    /// LMPOP's tail from `at` (numkeys): keys, direction, optional COUNT once.
    let private mpop (a: byte[][]) (at: int) (timeout: float voption) =
        let numkeysError = Error(Reply.err "ERR numkeys should be greater than 0")

        match Num.tryParseInt64 a[at] with
        | ValueSome n when n > 0L ->
            if n > int64 (a.Length - at - 2) then Error Reply.syntaxError
            else
                let n = int n
                let keys = a[at + 1 .. at + n]
                let rest = a.Length - (at + n + 2)

                match isLeft a[at + n + 1] with
                | ValueNone -> Error Reply.syntaxError
                | ValueSome left ->
                    if rest = 0 then Ok(ListCommand.MPop(keys, left, 1L, timeout))
                    elif rest = 2 && Bytes.eqLower "count" a[at + n + 2] then
                        match Num.tryParseInt64 a[at + n + 3] with
                        | ValueSome c when c > 0L -> Ok(ListCommand.MPop(keys, left, c, timeout))
                        | _ -> Error(Reply.err "ERR count should be greater than 0")
                    else Error Reply.syntaxError
        | _ -> numkeysError

    let private blmpop (a: byte[][]) =
        // Redis reads numkeys and the options before the timeout.
        match mpop a 2 ValueNone with
        | Error e -> Error e
        | Ok(ListCommand.MPop(keys, left, count, _)) ->
            parseTimeout a[1] |> Result.map (fun t -> ListCommand.MPop(keys, left, count, ValueSome t))
        | Ok other -> Ok other

    let private move (a: byte[][]) (timeout: bool) =
        match isLeft a[3], isLeft a[4] with
        | ValueSome f, ValueSome t ->
            if timeout then
                parseTimeout a[5] |> Result.map (fun s -> ListCommand.Move(a[1], a[2], f, t, ValueSome s))
            else Ok(ListCommand.Move(a[1], a[2], f, t, ValueNone))
        | _ -> Error Reply.syntaxError

    let private insert (a: byte[][]) =
        if Bytes.eqLower "before" a[2] then Ok(ListCommand.Insert(a[1], true, a[3], a[4]))
        elif Bytes.eqLower "after" a[2] then Ok(ListCommand.Insert(a[1], false, a[3], a[4]))
        else Error Reply.syntaxError

    let private bpop left (a: byte[][]) =
        parseTimeout a[a.Length - 1]
        |> Result.map (fun t -> ListCommand.BPop(a[1 .. a.Length - 2], left, t))

    let private two (f: int64 -> int64 -> ListCommand) (a: byte[]) (b: byte[]) =
        match Num.tryParseInt64 a, Num.tryParseInt64 b with
        | ValueSome x, ValueSome y -> Ok(f x y)
        | _ -> Error Reply.notInteger

    /// (name, arity, writes, parser): joined into the command table.
    let specs: (string * int * bool * (byte[][] -> Result<ListCommand, Reply>)) list =
        [ "lpush", -3, true, (fun a -> Ok(ListCommand.Push(a[1], a[2..], true, false)))
          "rpush", -3, true, (fun a -> Ok(ListCommand.Push(a[1], a[2..], false, false)))
          "lpushx", -3, true, (fun a -> Ok(ListCommand.Push(a[1], a[2..], true, true)))
          "rpushx", -3, true, (fun a -> Ok(ListCommand.Push(a[1], a[2..], false, true)))
          "lpop", -2, true, pop true
          "rpop", -2, true, pop false
          "llen", 2, false, (fun a -> Ok(ListCommand.Len a[1]))
          "lrange", 4, false, (fun a -> two (fun s e -> ListCommand.Range(a[1], s, e)) a[2] a[3])
          "lindex", 3, false, (fun a -> Ok(ListCommand.Index(a[1], Num.tryParseInt64 a[2])))
          "lset", 4, true, (fun a -> Ok(ListCommand.Set(a[1], Num.tryParseInt64 a[2], a[3])))
          "lrem", 4, true, (fun a -> int64Arg a[2] |> Result.map (fun n -> ListCommand.Rem(a[1], n, a[3])))
          "ltrim", 4, true, (fun a -> two (fun s e -> ListCommand.Trim(a[1], s, e)) a[2] a[3])
          "linsert", 5, true, insert
          "lpos", -3, false, pos
          "rpoplpush", 3, true, (fun a -> Ok(ListCommand.Move(a[1], a[2], false, true, ValueNone)))
          "lmove", 5, true, (fun a -> move a false)
          "lmpop", -4, true, (fun a -> mpop a 1 ValueNone)
          "blpop", -3, true, bpop true
          "brpop", -3, true, bpop false
          "brpoplpush", 4, true,
          (fun a -> parseTimeout a[3] |> Result.map (fun t -> ListCommand.Move(a[1], a[2], false, true, ValueSome t)))
          "blmove", 6, true, (fun a -> move a true)
          "blmpop", -5, true, blmpop ]

    /// The keys of the session's database the command reads or writes: lazy expiry purges these first,
    /// and a blocking command waits on them.
    let keys (cmd: ListCommand) : byte[][] =
        match cmd with
        | ListCommand.Push(k, _, _, _)
        | ListCommand.Pop(k, _, _)
        | ListCommand.Len k
        | ListCommand.Range(k, _, _)
        | ListCommand.Index(k, _)
        | ListCommand.Set(k, _, _)
        | ListCommand.Rem(k, _, _)
        | ListCommand.Trim(k, _, _)
        | ListCommand.Insert(k, _, _, _)
        | ListCommand.Pos(k, _, _, _, _) -> [| k |]
        | ListCommand.Move(s, d, _, _, _) -> [| s; d |]
        | ListCommand.MPop(ks, _, _, _)
        | ListCommand.BPop(ks, _, _) -> ks

    /// For a blocking command: its timeout in seconds (0 = forever) and its reply inside MULTI with nothing
    /// to serve (redis-server 7.0.15: `$-1` for BLMOVE and BRPOPLPUSH, `*-1` for the others). ValueNone for
    /// every other command.
    let blocking (cmd: ListCommand) : struct (float * Reply) voption =
        match cmd with
        | ListCommand.BPop(_, _, t)
        | ListCommand.MPop(_, _, _, ValueSome t) -> ValueSome(struct (t, Reply.NilArray))
        | ListCommand.Move(_, _, _, _, ValueSome t) -> ValueSome(struct (t, Reply.Nil))
        | _ -> ValueNone

module ListOp =
    // Command names are encoded once: every logged push writes one.
    let private lpush = "LPUSH"B
    let private rpush = "RPUSH"B
    let private lpushx = "LPUSHX"B
    let private rpushx = "RPUSHX"B
    let private lpop = "LPOP"B
    let private rpop = "RPOP"B
    let private lset = "LSET"B
    let private lrem = "LREM"B
    let private ltrim = "LTRIM"B
    let private linsert = "LINSERT"B
    let private lmove = "LMOVE"B
    let private before' = "BEFORE"B
    let private after' = "AFTER"B
    let private left' = "LEFT"B
    let private right' = "RIGHT"B
    let private n (x: int64) = Num.formatInt64 x
    let private side (left: bool) = if left then left' else right'

    /// The RESP command that records the op.
    let toArgs (op: ListOp) : byte[][] =
        match op with
        | ListOp.Push(k, vs, left, x) ->
            let name =
                match left, x with
                | true, false -> lpush
                | false, false -> rpush
                | true, true -> lpushx
                | false, true -> rpushx

            Args.withKey name k vs
        // A single pop is written as Redis writes it: LPOP key.
        | ListOp.Pop(k, 1L, left) -> [| (if left then lpop else rpop); k |]
        | ListOp.Pop(k, c, left) -> [| (if left then lpop else rpop); k; n c |]
        | ListOp.Set(k, i, v) -> [| lset; k; n i; v |]
        | ListOp.Rem(k, c, v) -> [| lrem; k; n c; v |]
        | ListOp.Trim(k, s, e) -> [| ltrim; k; n s; n e |]
        | ListOp.Insert(k, before, p, v) -> [| linsert; k; (if before then before' else after'); p; v |]
        | ListOp.Move(s, d, f, t) -> [| lmove; s; d; side f; side t |]

    let private side' (x: byte[]) =
        if Bytes.eqLower "left" x then Ok true
        elif Bytes.eqLower "right" x then Ok false
        else Error()

    let private int' (x: byte[]) =
        match Num.tryParseInt64 x with
        | ValueSome v -> Ok v
        | ValueNone -> Error()

    let private both (f: 'a -> 'b -> ListOp) (x: Result<'a, unit>) (y: Result<'b, unit>) =
        match x, y with
        | Ok a, Ok b -> Ok(f a b)
        | _ -> Error()

    /// Reads back a logged command whose lower-cased name is `name`; ValueNone when it is not a list command.
    let ofArgs (name: string) (a: byte[][]) : Result<ListOp, unit> voption =
        let push left x =
            if a.Length >= 3 then Ok(ListOp.Push(a[1], a[2..], left, x)) else Error()

        let pop left =
            match a.Length with
            | 2 -> Ok(ListOp.Pop(a[1], 1L, left))
            | 3 -> int' a[2] |> Result.bind (fun c -> if c >= 0L then Ok(ListOp.Pop(a[1], c, left)) else Error())
            | _ -> Error()

        match name with
        | "lpush" -> ValueSome(push true false)
        | "rpush" -> ValueSome(push false false)
        | "lpushx" -> ValueSome(push true true)
        | "rpushx" -> ValueSome(push false true)
        | "lpop" -> ValueSome(pop true)
        | "rpop" -> ValueSome(pop false)
        | "lset" when a.Length = 4 -> ValueSome(int' a[2] |> Result.map (fun i -> ListOp.Set(a[1], i, a[3])))
        | "lrem" when a.Length = 4 -> ValueSome(int' a[2] |> Result.map (fun c -> ListOp.Rem(a[1], c, a[3])))
        | "ltrim" when a.Length = 4 ->
            ValueSome(both (fun s e -> ListOp.Trim(a[1], s, e)) (int' a[2]) (int' a[3]))
        | "linsert" when a.Length = 5 ->
            if Bytes.eqLower "before" a[2] then ValueSome(Ok(ListOp.Insert(a[1], true, a[3], a[4])))
            elif Bytes.eqLower "after" a[2] then ValueSome(Ok(ListOp.Insert(a[1], false, a[3], a[4])))
            else ValueSome(Error())
        | "lmove" when a.Length = 5 ->
            ValueSome(both (fun f t -> ListOp.Move(a[1], a[2], f, t)) (side' a[3]) (side' a[4]))
        | "rpoplpush" when a.Length = 3 -> ValueSome(Ok(ListOp.Move(a[1], a[2], false, true)))
        | "lset"
        | "lrem"
        | "ltrim"
        | "linsert"
        | "lmove"
        | "rpoplpush" -> ValueSome(Error())
        | _ -> ValueNone

    /// The keys the op writes: clients blocked on them are looked at again.
    let keys (op: ListOp) : byte[][] =
        match op with
        | ListOp.Push(k, _, _, _)
        | ListOp.Pop(k, _, _)
        | ListOp.Set(k, _, _)
        | ListOp.Rem(k, _, _)
        | ListOp.Trim(k, _, _)
        | ListOp.Insert(k, _, _, _) -> [| k |]
        | ListOp.Move(s, d, _, _) -> [| s; d |]

    /// The list at `k`, or ValueNone when the key is missing or holds another type.
    let private find (k: byte[]) (db: Db) : struct (PList * int64) voption =
        match Db.tryFind k db with
        | ValueSome e ->
            match e.Value with
            | Value.List l -> ValueSome(struct (l, e.ExpireAt))
            | _ -> ValueNone
        | ValueNone -> ValueNone

    /// Stores `l` at `k` keeping the TTL; an empty list removes the key.
    let store (k: byte[]) (l: PList) (expireAt: int64) (db: Db) : Db =
        if PList.isEmpty l then Db.remove k db else Db.set k (Entry(Value.List l, expireAt)) db

    /// The first `count` elements from one end, in the order they are popped, and what is left.
    let popMany (l: PList) (count: int) (left: bool) : struct (byte[][] * PList) =
        let c = min count (PList.count l)

        // A few pops go through the end fingers (cheap); many go through one split (O(log n)).
        if c <= 8 then
            let taken = Array.zeroCreate c
            let mutable rest = l

            for i in 0 .. c - 1 do
                taken[i] <- if left then PList.head rest else PList.last rest
                rest <- if left then PList.popFront rest else PList.popBack rest

            struct (taken, rest)
        elif left then
            let struct (taken, rest) = PList.splitAt c l
            struct (PList.slice 0 c taken, rest)
        else
            let struct (rest, taken) = PList.splitAt (PList.count l - c) l
            struct (Array.rev (PList.slice 0 c taken), rest)

    /// LREM's result: the list without the first |count| matches from the head (count > 0), from the tail
    /// (count < 0), or all of them (0), with how many went.
    let remove (l: PList) (count: int64) (v: byte[]) : struct (PList * int) =
        let limit = if count = 0L then Int64.MaxValue else abs count
        let mutable removed = 0L
        let keep (x: byte[]) =
            if removed < limit && Bytes.equal x v then
                removed <- removed + 1L
                false
            else true

        if count >= 0L then
            let kept = PList.toSeq l |> Seq.filter keep |> Seq.toArray
            if removed = 0L then struct (l, 0) else struct (PList.ofArray kept, int removed)
        else
            let kept = PList.toSeqBack l |> Seq.filter keep |> Seq.toArray
            if removed = 0L then struct (l, 0) else struct (PList.ofArray (Array.rev kept), int removed)

    /// The index of the first element equal to `pivot`, front to back.
    let indexOf (pivot: byte[]) (l: PList) : int voption =
        match Seq.tryFindIndex (Bytes.equal pivot) (PList.toSeq l) with
        | Some i -> ValueSome i
        | None -> ValueNone

    let push (left: bool) (vs: byte[][]) (l: PList) : PList =
        if left then PList.pushFrontMany vs l else PList.pushBackMany vs l

    /// evolve, within the op's database. An emptied collection disappears. An op that does not fit the
    /// state (a missing key, another type) changes nothing: the live decision never logs one.
    let apply (op: ListOp) (db: Db) : Db =
        match op with
        | ListOp.Push(k, vs, left, onlyIfExists) ->
            match Db.tryFind k db with
            | ValueNone when not onlyIfExists -> Db.set k (Entry(Value.List(push left vs PList.empty), Expiry.none)) db
            | ValueSome e ->
                match e.Value with
                | Value.List l -> Db.set k (Entry(Value.List(push left vs l), e.ExpireAt)) db
                | _ -> db
            | ValueNone -> db
        | ListOp.Pop(k, c, left) ->
            match find k db with
            | ValueSome(struct (l, at)) ->
                let struct (_, rest) = popMany l (int (min c (int64 Int32.MaxValue))) left
                store k rest at db
            | ValueNone -> db
        | ListOp.Set(k, i, v) ->
            match find k db with
            | ValueSome(struct (l, at)) ->
                match ListIndex.resolve (PList.count l) i with
                | ValueSome j -> Db.set k (Entry(Value.List(PList.set j v l), at)) db
                | ValueNone -> db
            | ValueNone -> db
        | ListOp.Rem(k, c, v) ->
            match find k db with
            | ValueSome(struct (l, at)) ->
                let struct (rest, removed) = remove l c v
                if removed = 0 then db else store k rest at db
            | ValueNone -> db
        | ListOp.Trim(k, s, e) ->
            match find k db with
            | ValueSome(struct (l, at)) ->
                let struct (first, count) = ListIndex.range (PList.count l) s e
                let struct (_, tail) = PList.splitAt first l
                let struct (kept, _) = PList.splitAt count tail
                store k kept at db
            | ValueNone -> db
        | ListOp.Insert(k, before, p, v) ->
            match find k db with
            | ValueSome(struct (l, at)) ->
                match indexOf p l with
                | ValueSome i -> Db.set k (Entry(Value.List(PList.insertAt (if before then i else i + 1) v l), at)) db
                | ValueNone -> db
            | ValueNone -> db
        | ListOp.Move(s, d, f, t) ->
            match find s db with
            | ValueSome(struct (src, sAt)) ->
                let x = if f then PList.head src else PList.last src
                let rest = if f then PList.popFront src else PList.popBack src

                // Onto itself: a rotation; the key never empties, so it keeps its TTL.
                if Bytes.equal s d then Db.set s (Entry(Value.List(push t [| x |] rest), sAt)) db
                else

                let db1 = store s rest sAt db

                match Db.tryFind d db1 with
                | ValueNone -> Db.set d (Entry(Value.List(push t [| x |] PList.empty), Expiry.none)) db1
                | ValueSome e ->
                    match e.Value with
                    | Value.List l -> Db.set d (Entry(Value.List(push t [| x |] l), e.ExpireAt)) db1
                    | _ -> db
            | ValueNone -> db

    /// The rewrite of one key, op by op: RPUSHes of at most 64 elements, sliced straight out of the rope and
    /// handed on at once (a rewrite of a long list runs beside the executor: it should neither walk the list
    /// lazily nor hold all its commands).
    let projectTo (key: byte[]) (l: PList) (emit: ListOp -> unit) : unit =
        let n = PList.count l
        let mutable start = 0

        while start < n do
            let count = min 64 (n - start)
            emit (ListOp.Push(key, PList.slice start count l, false, false))
            start <- start + count

    /// The rewrite of one key: the fewest ops that rebuild the value, at most 64 elements each.
    let project (key: byte[]) (l: PList) : ListOp list =
        let ops = ResizeArray()
        projectTo key l ops.Add
        List.ofSeq ops
