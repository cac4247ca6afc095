module Aof.Core.Tests.ListTests

open System
open System.Collections.Generic
open Xunit
open FsCheck
open FsCheck.FSharp
open Aof.Core

let private b (s: string) = Bytes.ofString s
let private bs (xs: string list) = xs |> List.map b |> List.toArray
let private config n = Config.QuickThrowOnFailure.WithMaxTest(n)

// ---------------------------------------------------------------------------------------------------------
// PList against an array

type private PStep =
    | PushFront of int
    | PushBack of int
    | PushFrontMany of int
    | PushBackMany of int
    | PopFront
    | PopBack
    | SetAt of int
    | InsertAt of int
    | RemoveAt of int
    | SplitKeepLeft of int
    | SplitKeepRight of int
    | AppendSelf

let private genPStep =
    Gen.frequency
        [ 6, Gen.map PushFront (Gen.choose (0, 1000))
          6, Gen.map PushBack (Gen.choose (0, 1000))
          1, Gen.map PushFrontMany (Gen.choose (0, 150))
          1, Gen.map PushBackMany (Gen.choose (0, 150))
          4, Gen.constant PopFront
          4, Gen.constant PopBack
          3, Gen.map SetAt (Gen.choose (0, Int32.MaxValue))
          3, Gen.map InsertAt (Gen.choose (0, Int32.MaxValue))
          3, Gen.map RemoveAt (Gen.choose (0, Int32.MaxValue))
          1, Gen.map SplitKeepLeft (Gen.choose (0, Int32.MaxValue))
          1, Gen.map SplitKeepRight (Gen.choose (0, Int32.MaxValue))
          1, Gen.constant AppendSelf ]

let private genPRun = Gen.zip (Gen.choose (0, 5000)) (Gen.listOf genPStep)

let private item (n: int) = b (string n)

let private runPList (initial: int, steps: PStep list) : bool =
    let reference = List<byte[]>(Array.init initial item)
    let mutable l = PList.ofSeq (Array.init initial item)
    let mutable ok = PList.isValid l
    let mutable fresh = 100000

    for st in steps do
        let n = reference.Count

        match st with
        | PushFront x ->
            reference.Insert(0, item x)
            l <- PList.pushFront (item x) l
        | PushBack x ->
            reference.Add(item x)
            l <- PList.pushBack (item x) l
        | PushFrontMany k ->
            let xs = Array.init k (fun i -> item (fresh + i))
            fresh <- fresh + k
            for x in xs do
                reference.Insert(0, x)
            l <- PList.pushFrontMany xs l
        | PushBackMany k ->
            let xs = Array.init k (fun i -> item (fresh + i))
            fresh <- fresh + k
            reference.AddRange xs
            l <- PList.pushBackMany xs l
        | PopFront when n > 0 ->
            ok <- ok && Bytes.equal (PList.head l) reference[0]
            reference.RemoveAt 0
            l <- PList.popFront l
        | PopBack when n > 0 ->
            ok <- ok && Bytes.equal (PList.last l) reference[n - 1]
            reference.RemoveAt(n - 1)
            l <- PList.popBack l
        | SetAt i when n > 0 ->
            let i = i % n
            reference[i] <- item -i
            l <- PList.set i (item -i) l
        | InsertAt i ->
            let i = i % (n + 1)
            reference.Insert(i, item -i)
            l <- PList.insertAt i (item -i) l
        | RemoveAt i when n > 0 ->
            let i = i % n
            reference.RemoveAt i
            l <- PList.removeAt i l
        | SplitKeepLeft i ->
            let i = i % (n + 1)
            reference.RemoveRange(i, n - i)
            let struct (a, _) = PList.splitAt i l
            l <- a
        | SplitKeepRight i ->
            let i = i % (n + 1)
            reference.RemoveRange(0, i)
            let struct (_, c) = PList.splitAt i l
            l <- c
        | AppendSelf when n < 20000 ->
            reference.AddRange(reference.ToArray())
            l <- PList.append l l
        | _ -> ()

        ok <- ok && PList.isValid l && PList.count l = reference.Count

    let arr = reference.ToArray()
    let n = arr.Length
    let same (xs: seq<byte[]>) (ys: byte[][]) = Seq.forall2 Bytes.equal xs ys && Seq.length xs = ys.Length

    ok
    && same (PList.toSeq l) arr
    && same (PList.toSeqBack l) (Array.rev arr)
    && [ 0 .. (max 1 (n / 37)) .. n - 1 ] |> List.forall (fun i -> Bytes.equal (PList.item i l) arr[i])
    && (n = 0 || same (PList.slice (n / 3) (n - n / 3 - n / 5) l) arr[n / 3 .. n - n / 5 - 1])

[<Fact>]
let ``PList behaves as an array under random pushes, pops, sets, inserts, removes, splits and appends`` () =
    Check.One(config 300, Prop.forAll (Arb.fromGen genPRun) runPList)

[<Fact>]
let ``PList survives a million pushes at both ends and pops them back in order`` () =
    let mutable l = PList.empty

    for i in 0 .. 499_999 do
        l <- PList.pushBack (item i) (PList.pushFront (item -i) l)

    Assert.True(PList.isValid l)
    Assert.Equal(1_000_000, PList.count l)
    Assert.Equal("-499999", Bytes.toString (PList.head l))
    Assert.Equal("499999", Bytes.toString (PList.last l))
    Assert.Equal("0", Bytes.toString (PList.item 500_000 l))

    for i in 499_999 .. -1 .. 0 do
        Assert.Equal(string -i, Bytes.toString (PList.head l))
        Assert.Equal(string i, Bytes.toString (PList.last l))
        l <- PList.popBack (PList.popFront l)

    Assert.Equal(0, PList.count l)

// ---------------------------------------------------------------------------------------------------------
// The commands against a plain mutable model

/// A reference model of Redis 7.0's lists, written from the documentation and from what redis-server
/// 7.0.15 answered, independently of ListsDecide. One database; strings only through SET.
/// Every version stays what it was: pushes, pops and sets applied to randomly chosen earlier versions (so
/// several versions share finger arrays, and pushes race for the same free slot) never change an older
/// version. This is what lets a push write into a finger's free slot in place.
[<Fact>]
let ``every earlier PList version is unchanged by operations on any version`` () =
    let genOp = Gen.zip3 (Gen.choose (0, 1000)) (Gen.choose (0, 5)) (Gen.choose (0, 100000))

    let prop (ops: (int * int * int) list) =
        let versions = ResizeArray<PList * byte[][]>([ PList.empty, [||] ])

        for (pick, kind, v) in ops do
            let (l, model) = versions[pick % versions.Count]
            let x = item v

            let next =
                match kind with
                | 0 -> Some(PList.pushBack x l, Array.append model [| x |])
                | 1 -> Some(PList.pushFront x l, Array.append [| x |] model)
                | 2 when model.Length > 0 -> Some(PList.popBack l, model[.. model.Length - 2])
                | 3 when model.Length > 0 -> Some(PList.popFront l, model[1..])
                | 4 when model.Length > 0 ->
                    let i = v % model.Length
                    Some(PList.set i x l, Array.mapi (fun j y -> if j = i then x else y) model)
                | _ -> Some(PList.pushBackMany [| x; x |] l, Array.append model [| x; x |])

            next |> Option.iter versions.Add

        versions |> Seq.forall (fun (l, model) -> PList.toSeq l |> Seq.toArray = model && PList.count l = model.Length)

    Check.One(config 300, Prop.forAll (Arb.fromGen (Gen.listOfLength 400 genOp)) prop)

type ListModel() =
    let strings = Dictionary<string, string>()
    let lists = Dictionary<string, List<string>>()
    let expires = Dictionary<string, int64>()
    member val Now = 0L with get, set

    member m.Purge(k: string) =
        match expires.TryGetValue k with
        | true, at when at <= m.Now ->
            strings.Remove k |> ignore
            lists.Remove k |> ignore
            expires.Remove k |> ignore
        | _ -> ()

    member _.Picture() : Map<int, Map<string, Plain * int64>> =
        let at k = match expires.TryGetValue k with | true, t -> t | _ -> Expiry.none
        let keys =
            [ for KeyValue(k, v) in strings -> k, (Plain.Str(b v), at k)
              for KeyValue(k, l) in lists -> k, (Plain.List [ for x in l -> b x ], at k) ]

        if keys.IsEmpty then Map.empty else Map.ofList [ 0, Map.ofList keys ]

    member _.Strings = strings
    member _.Lists = lists
    member _.Expires = expires

let private wrongType = Reply.wrongType
let private bulk (s: string) = Reply.Bulk(b s)
let private int' (n: int) = Reply.Integer(int64 n)
let private blockedMark = Reply.Simple "<blocked>"

/// One command on the model; `args` are already known to be well-formed unless the generator says so.
let private modelRun (m: ListModel) (args: string list) : Reply =
    let lists = m.Lists
    let kind (k: string) =
        if m.Strings.ContainsKey k then 'S' elif lists.ContainsKey k then 'L' else '-'

    let dropIfEmpty k =
        if lists[k].Count = 0 then
            lists.Remove k |> ignore
            m.Expires.Remove k |> ignore

    let popOne k left =
        let l = lists[k]
        let i = if left then 0 else l.Count - 1
        let x = l[i]
        l.RemoveAt i
        x

    let pushOne k left (x: string) =
        if not (lists.ContainsKey k) then lists[k] <- List()
        if left then lists[k].Insert(0, x) else lists[k].Add x

    let norm (len: int) (start: int) (stop: int) =
        let s = if start < 0 then max 0 (len + start) else start
        let e = if stop < 0 then len + stop else stop
        let e = if e >= len then len - 1 else e
        if s > e || s >= len then None else Some(s, e)

    let pops k left n =
        [| for _ in 1..n -> popOne k left |]

    match args with
    | "SET" :: k :: v :: _ ->
        lists.Remove k |> ignore
        m.Expires.Remove k |> ignore
        m.Strings[k] <- v
        Reply.ok
    | [ "DEL"; k ] ->
        let had = kind k <> '-'
        m.Strings.Remove k |> ignore
        lists.Remove k |> ignore
        m.Expires.Remove k |> ignore
        if had then Reply.one else Reply.zero
    | [ "PEXPIRE"; k; t ] ->
        if kind k = '-' then Reply.zero
        else
            m.Expires[k] <- m.Now + int64 t
            Reply.one
    | ("LPUSH" | "RPUSH" | "LPUSHX" | "RPUSHX") as cmd :: k :: vs ->
        match kind k with
        | 'S' -> wrongType
        | '-' when cmd.EndsWith "X" -> Reply.zero
        | _ ->
            for v in vs do
                pushOne k (cmd.StartsWith "L") v

            int' lists[k].Count
    | [ ("LPOP" | "RPOP") as cmd; k ] ->
        match kind k with
        | 'S' -> wrongType
        | '-' -> Reply.Nil
        | _ ->
            let x = popOne k (cmd = "LPOP")
            dropIfEmpty k
            bulk x
    | [ ("LPOP" | "RPOP") as cmd; k; c ] ->
        let c = int c
        if c < 0 then Reply.err "ERR value is out of range, must be positive"
        else
            match kind k with
            | 'S' -> wrongType
            | '-' -> Reply.NilArray
            | _ ->
                let xs = pops k (cmd = "LPOP") (min c lists[k].Count)
                dropIfEmpty k
                Reply.Array(Array.map bulk xs)
    | [ "LLEN"; k ] ->
        match kind k with
        | 'S' -> wrongType
        | '-' -> Reply.zero
        | _ -> int' lists[k].Count
    | [ "LRANGE"; k; s; e ] ->
        match kind k with
        | 'S' -> wrongType
        | '-' -> Reply.emptyArray
        | _ ->
            let l = lists[k]
            match norm l.Count (int s) (int e) with
            | None -> Reply.emptyArray
            | Some(s, e) -> Reply.Array [| for i in s..e -> bulk l[i] |]
    | [ "LINDEX"; k; i ] ->
        match kind k with
        | 'S' -> wrongType
        | '-' -> Reply.Nil
        | _ ->
            let l = lists[k]
            let i = int i
            let i = if i < 0 then l.Count + i else i
            if i >= 0 && i < l.Count then bulk l[i] else Reply.Nil
    | [ "LSET"; k; i; v ] ->
        match kind k with
        | 'S' -> wrongType
        | '-' -> Reply.err "ERR no such key"
        | _ ->
            let l = lists[k]
            let i = int i
            let i = if i < 0 then l.Count + i else i
            if i >= 0 && i < l.Count then
                l[i] <- v
                Reply.ok
            else Reply.err "ERR index out of range"
    | [ "LREM"; k; c; v ] ->
        match kind k with
        | 'S' -> wrongType
        | '-' -> Reply.zero
        | _ ->
            let l = lists[k]
            let c = int c
            let limit = if c = 0 then Int32.MaxValue else abs c
            let mutable removed = 0
            if c >= 0 then
                let mutable i = 0
                while i < l.Count do
                    if removed < limit && l[i] = v then
                        l.RemoveAt i
                        removed <- removed + 1
                    else i <- i + 1
            else
                let mutable i = l.Count - 1
                while i >= 0 do
                    if removed < limit && l[i] = v then
                        l.RemoveAt i
                        removed <- removed + 1
                    i <- i - 1
            dropIfEmpty k
            int' removed
    | [ "LTRIM"; k; s; e ] ->
        match kind k with
        | 'S' -> wrongType
        | '-' -> Reply.ok
        | _ ->
            let l = lists[k]
            match norm l.Count (int s) (int e) with
            | None -> l.Clear()
            | Some(s, e) ->
                l.RemoveRange(e + 1, l.Count - e - 1)
                l.RemoveRange(0, s)
            dropIfEmpty k
            Reply.ok
    | [ "LINSERT"; k; where; p; v ] ->
        match kind k with
        | 'S' -> wrongType
        | '-' -> Reply.zero
        | _ ->
            let l = lists[k]
            match l.IndexOf p with
            | -1 -> Reply.Integer -1L
            | i ->
                l.Insert((if where = "BEFORE" then i else i + 1), v)
                int' l.Count
    | "LPOS" :: k :: el :: opts ->
        let rec parse o (rank, count, maxlen) =
            match o with
            | "RANK" :: r :: rest -> parse rest (int r, count, maxlen)
            | "COUNT" :: c :: rest -> parse rest (rank, Some(int c), maxlen)
            | "MAXLEN" :: x :: rest -> parse rest (rank, count, int x)
            | _ -> (rank, count, maxlen)

        let rank, count, maxlen = parse opts (1, None, 0)

        if rank = 0 then
            Reply.err "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
        else
            match kind k with
            | 'S' -> wrongType
            | '-' -> if count.IsSome then Reply.emptyArray else Reply.Nil
            | _ ->
                let l = lists[k]
                let order = if rank > 0 then [ 0 .. l.Count - 1 ] else [ l.Count - 1 .. -1 .. 0 ]
                let order = if maxlen > 0 then List.truncate maxlen order else order
                let hits = order |> List.filter (fun i -> l[i] = el) |> fun hs -> (if abs rank - 1 >= List.length hs then [] else List.skip (abs rank - 1) hs)
                match count with
                | None -> (match hits with i :: _ -> int' i | [] -> Reply.Nil)
                | Some 0 -> Reply.Array [| for i in hits -> int' i |]
                | Some c -> Reply.Array [| for i in List.truncate c hits -> int' i |]
    | [ ("LMOVE" | "BLMOVE" | "RPOPLPUSH" | "BRPOPLPUSH") as cmd; s; d; f; t ] ->
        let fromLeft, toLeft = f = "LEFT", t = "LEFT"
        match kind s, kind d with
        | 'S', _ -> wrongType
        | '-', _ -> if cmd.StartsWith "B" then blockedMark else Reply.Nil
        | _, 'S' -> wrongType
        | _ ->
            let x = popOne s fromLeft
            pushOne d toLeft x
            dropIfEmpty s
            bulk x
    | ("LMPOP" | "BLMPOP" | "BLPOP" | "BRPOP") as cmd :: keys :: rest ->
        let keys = keys.Split ','
        let left, count =
            match rest with
            | [ dir ] -> dir = "LEFT", 1
            | [ dir; c ] -> dir = "LEFT", int c
            | _ -> failwith "bad generated command"

        let rec first i =
            if i = keys.Length then Ok None
            else
                match kind keys[i] with
                | 'S' -> Error wrongType
                | 'L' -> Ok(Some keys[i])
                | _ -> first (i + 1)

        match first 0 with
        | Error e -> e
        | Ok None -> if cmd.StartsWith "B" then blockedMark else Reply.NilArray
        | Ok(Some k) ->
            let xs = pops k left (min count lists[k].Count)
            dropIfEmpty k
            if cmd = "BLPOP" || cmd = "BRPOP" then Reply.Array [| bulk k; bulk xs[0] |]
            else Reply.Array [| bulk k; Reply.Array(Array.map bulk xs) |]
    | _ -> failwithf "model: unexpected %A" args

/// A generated command in the model's shorthand, and the real argument vector it stands for.
type private Cmd = { Model: string list; Real: string list; Keys: string list }

let private genKey = Gen.elements [ "k1"; "k2"; "k3" ]
let private genVal = Gen.elements [ "a"; "b"; "c" ]
let private genIdx = Gen.choose (-5, 5) |> Gen.map string

let private cmd keys (real: string list) = { Model = real; Real = real; Keys = keys }

let private genCmd: Gen<Cmd> =
    let k = genKey
    let v = genVal
    Gen.frequency
        [ 8,
          gen {
              let! name = Gen.elements [ "LPUSH"; "RPUSH"; "LPUSHX"; "RPUSHX" ]
              let! key = k
              let! vs = Gen.nonEmptyListOf v
              return cmd [ key ] (name :: key :: vs)
          }
          1, gen {
              let! key = k
              let! n = Gen.choose (60, 140)
              return cmd [ key ] ("RPUSH" :: key :: List.init n (fun i -> string (i % 7)))
          }
          1, Gen.map2 (fun key x -> cmd [ key ] [ "SET"; key; x ]) k v
          1, Gen.map (fun key -> cmd [ key ] [ "DEL"; key ]) k
          1, Gen.map2 (fun key t -> cmd [ key ] [ "PEXPIRE"; key; string t ]) k (Gen.choose (1, 3000))
          3, Gen.map2 (fun name key -> cmd [ key ] [ name; key ]) (Gen.elements [ "LPOP"; "RPOP" ]) k
          3, Gen.map3 (fun name key c -> cmd [ key ] [ name; key; string c ]) (Gen.elements [ "LPOP"; "RPOP" ]) k (Gen.choose (-1, 4))
          2, Gen.map (fun key -> cmd [ key ] [ "LLEN"; key ]) k
          3, Gen.map3 (fun key s e -> cmd [ key ] [ "LRANGE"; key; s; e ]) k genIdx genIdx
          2, Gen.map2 (fun key i -> cmd [ key ] [ "LINDEX"; key; i ]) k genIdx
          2, Gen.map3 (fun key i x -> cmd [ key ] [ "LSET"; key; i; x ]) k genIdx v
          2, Gen.map3 (fun key c x -> cmd [ key ] [ "LREM"; key; c; x ]) k (Gen.choose (-2, 2) |> Gen.map string) v
          2, Gen.map3 (fun key s e -> cmd [ key ] [ "LTRIM"; key; s; e ]) k genIdx genIdx
          2,
          gen {
              let! key = k
              let! w = Gen.elements [ "BEFORE"; "AFTER" ]
              let! p = v
              let! x = Gen.elements [ "a"; "z" ]
              return cmd [ key ] [ "LINSERT"; key; w; p; x ]
          }
          2,
          gen {
              let! key = k
              let! el = v
              let! rank = Gen.elements [ []; [ "RANK"; "1" ]; [ "RANK"; "2" ]; [ "RANK"; "-1" ]; [ "RANK"; "-3" ]; [ "RANK"; "0" ] ]
              let! count = Gen.elements [ []; [ "COUNT"; "0" ]; [ "COUNT"; "1" ]; [ "COUNT"; "2" ] ]
              let! maxlen = Gen.elements [ []; [ "MAXLEN"; "0" ]; [ "MAXLEN"; "2" ] ]
              return cmd [ key ] ([ "LPOS"; key; el ] @ rank @ count @ maxlen)
          }
          3,
          gen {
              let! name = Gen.elements [ "LMOVE"; "BLMOVE"; "RPOPLPUSH"; "BRPOPLPUSH" ]
              let! s = k
              let! d = k
              let! f = Gen.elements [ "LEFT"; "RIGHT" ]
              let! t = Gen.elements [ "LEFT"; "RIGHT" ]
              let real =
                  match name with
                  | "LMOVE" -> [ name; s; d; f; t ]
                  | "BLMOVE" -> [ name; s; d; f; t; "0" ]
                  | "RPOPLPUSH" -> [ name; s; d ]
                  | _ -> [ name; s; d; "0.5" ]
              let f, t = if name.Contains "RPOPLPUSH" then "RIGHT", "LEFT" else f, t
              return { Model = [ name; s; d; f; t ]; Real = real; Keys = [ s; d ] }
          }
          3,
          gen {
              let! name = Gen.elements [ "LMPOP"; "BLMPOP"; "BLPOP"; "BRPOP" ]
              let! keys = Gen.nonEmptyListOf k |> Gen.map (List.truncate 3)
              let! dir = Gen.elements [ "LEFT"; "RIGHT" ]
              let! count = Gen.elements [ None; Some 1; Some 3 ]
              let ks = String.Join(",", keys)
              let n = string keys.Length
              let counted = match count with Some c -> [ "COUNT"; string c ] | None -> []
              let model, real =
                  match name with
                  | "LMPOP" -> [ name; ks; dir ] @ (count |> Option.map string |> Option.toList), [ name; n ] @ keys @ [ dir ] @ counted
                  | "BLMPOP" -> [ name; ks; dir ] @ (count |> Option.map string |> Option.toList), [ name; "0"; n ] @ keys @ [ dir ] @ counted
                  | "BLPOP" -> [ name; ks; "LEFT" ], name :: keys @ [ "0" ]
                  | _ -> [ name; ks; "RIGHT" ], name :: keys @ [ "1.5" ]
              return { Model = model; Real = real; Keys = keys }
          } ]

let private genSteps = Gen.listOf (Gen.zip (Gen.frequency [ 4, Gen.constant 0; 1, Gen.choose (1, 1500) ]) genCmd)

let private start = 1_000_000L

type private Run = { Replies: Reply list; Final: Keyspace; Events: Event list; Now: int64 }

let private ctxAt now = { Now = now; NowMicros = now * 1000L; Random = 9UL; MaxBulkLen = 1L <<< 29 }

let private runReal (steps: (int * Cmd) list) : Run =
    let mutable ks = Keyspace.create 1
    let mutable now = start
    let events = List<Event>()
    let replies = List<Reply>()

    for (adv, c) in steps do
        now <- now + int64 adv

        match Command.parse (bs c.Real) with
        | Ok(Request.Data cmd) ->
            let d = Decide.decide (ctxAt now) ks 0 cmd
            ks <- Evolve.replay ks d.Events
            events.AddRange d.Events
            replies.Add(if d.Blocked then blockedMark else d.Reply)
        | Ok other -> failwithf "unexpected %A" other
        | Error r -> replies.Add r

    { Replies = List.ofSeq replies; Final = ks; Events = List.ofSeq events; Now = now }

let private runModel (steps: (int * Cmd) list) : Reply list * ListModel =
    let m = ListModel()
    m.Now <- start

    let replies =
        [ for (adv, c) in steps do
              m.Now <- m.Now + int64 adv
              // A command refused for its arguments never looks at its keys, so it expires nothing.
              let refused =
                  match c.Model with
                  | "LPOS" :: _ -> List.pairwise c.Model |> List.contains ("RANK", "0")
                  | [ ("LPOP" | "RPOP"); _; n ] -> int n < 0
                  | _ -> false

              if not refused then
                  for k in c.Keys do
                      m.Purge k

              modelRun m c.Model ]

    replies, m

let private checkSteps n (prop: (int * Cmd) list -> bool) =
    Check.One(config n, Prop.forAll (Arb.fromGen genSteps) prop)

[<Fact>]
let ``list commands agree with the reference model on replies and final state`` () =
    checkSteps 400 (fun steps ->
        let real = runReal steps
        let replies, model = runModel steps

        if real.Replies <> replies then
            let i = List.zip real.Replies replies |> List.findIndex (fun (a, b) -> a <> b)
            failwithf "step %d (%A): real %A, model %A" i (snd steps[i]).Real real.Replies[i] replies[i]

        let realMap = Keyspace.toMap real.Final
        let modelMap = model.Picture()
        if realMap <> modelMap then failwithf "final state differs:\nreal  %A\nmodel %A" realMap modelMap
        true)

[<Fact>]
let ``the logged list events, through their AOF form, replay to the live state`` () =
    checkSteps 300 (fun steps ->
        let real = runReal steps

        let reparsed = Replay.throughArgs real.Events

        Keyspace.toMap (Evolve.replay (Keyspace.create 1) reparsed) = Keyspace.toMap real.Final)

let private alive (now: int64) (ks: Keyspace) =
    Keyspace.toMap ks
    |> Map.map (fun _ keys -> keys |> Map.filter (fun _ (_, at) -> at = Expiry.none || at > now))
    |> Map.filter (fun _ keys -> not keys.IsEmpty)

[<Fact>]
let ``replaying the rewrite of a list keyspace rebuilds it, with at most 64 elements a command`` () =
    checkSteps 300 (fun steps ->
        let real = runReal steps
        let events = Rewrite.project real.Now real.Final |> List.ofSeq
        let rebuilt = Evolve.replay (Keyspace.create 1) events

        alive real.Now rebuilt = alive real.Now real.Final
        && events |> List.forall (fun e -> (Event.toArgs e.Op).Length <= 2 + 64))

[<Fact>]
let ``a list rewrite is one RPUSH per 64 elements`` () =
    let l = PList.ofSeq [ for i in 1..130 -> item i ]
    let ops = ListOp.project (b "k") l
    Assert.Equal(3, ops.Length)
    Assert.Equal<int list>([ 66; 66; 4 ], ops |> List.map (fun o -> (ListOp.toArgs o).Length))

// ---------------------------------------------------------------------------------------------------------
// Replies checked against redis-server 7.0.15 (each sequence was sent to a real server and its RESP answer
// recorded).

let private session (cmds: string list list) : Reply list * Event list =
    let mutable ks = Keyspace.create 1
    let events = List<Event>()

    let replies =
        [ for c in cmds do
              match Command.parse (bs c) with
              | Ok(Request.Data cmd) ->
                  let d = Decide.decide (ctxAt start) ks 0 cmd
                  ks <- Evolve.replay ks d.Events
                  events.AddRange d.Events
                  if d.Blocked then blockedMark else d.Reply
              | Ok other -> failwithf "unexpected %A" other
              | Error r -> r ]

    replies, List.ofSeq events

let private last (cmds: string list list) = fst (session cmds) |> List.last
let private err (s: string) = Reply.Error s
let private bulksOf (xs: string list) = Reply.Array [| for x in xs -> bulk x |]

[<Fact>]
let ``LPOP and RPOP with a count: nil array for a missing key, empty array for count 0, range error`` () =
    Assert.Equal(err "ERR value is out of range, must be positive", last [ [ "RPUSH"; "l"; "a" ]; [ "LPOP"; "l"; "-1" ] ])
    Assert.Equal(err "ERR value is out of range, must be positive", last [ [ "LPOP"; "l"; "x" ] ])
    Assert.Equal(Reply.emptyArray, last [ [ "RPUSH"; "l"; "a" ]; [ "LPOP"; "l"; "0" ] ])
    Assert.Equal(Reply.NilArray, last [ [ "LPOP"; "nol"; "0" ] ])
    Assert.Equal(Reply.NilArray, last [ [ "LPOP"; "nol"; "2" ] ])
    Assert.Equal(Reply.Nil, last [ [ "LPOP"; "nol" ] ])
    Assert.Equal(err "ERR wrong number of arguments for 'lpop' command", last [ [ "LPOP"; "l"; "1"; "2" ] ])
    Assert.Equal(wrongType, last [ [ "SET"; "s"; "x" ]; [ "LPOP"; "s"; "0" ] ])
    Assert.Equal(bulksOf [ "c"; "b"; "a" ], last [ [ "RPUSH"; "l"; "a"; "b"; "c" ]; [ "RPOP"; "l"; "10" ] ])

[<Fact>]
let ``LSET, LINDEX, LINSERT, LTRIM edge replies`` () =
    Assert.Equal(err "ERR no such key", last [ [ "LSET"; "nol"; "0"; "x" ] ])
    Assert.Equal(err "ERR index out of range", last [ [ "RPUSH"; "l"; "a" ]; [ "LSET"; "l"; "100"; "x" ] ])
    Assert.Equal(Reply.notInteger, last [ [ "RPUSH"; "l"; "a" ]; [ "LSET"; "l"; "x"; "y" ] ])
    // The key is looked at before the index is read, as redis-server 7.0.15 does.
    Assert.Equal(err "ERR no such key", last [ [ "LSET"; "nol"; "x"; "y" ] ])
    Assert.Equal(wrongType, last [ [ "SET"; "s"; "v" ]; [ "LSET"; "s"; "1.5"; "y" ] ])
    Assert.Equal(Reply.Nil, last [ [ "LINDEX"; "nol"; "abc" ] ])
    Assert.Equal(wrongType, last [ [ "SET"; "s"; "v" ]; [ "LINDEX"; "s"; "abc" ] ])
    Assert.Equal(Reply.notInteger, last [ [ "RPUSH"; "l"; "a" ]; [ "LINDEX"; "l"; "1.5" ] ])
    Assert.Equal(Reply.Nil, last [ [ "RPUSH"; "l"; "a"; "b"; "c"; "a" ]; [ "LINDEX"; "l"; "-5" ] ])
    Assert.Equal(Reply.syntaxError, last [ [ "LINSERT"; "l"; "middle"; "a"; "x" ] ])
    Assert.Equal(Reply.zero, last [ [ "LINSERT"; "nol"; "before"; "a"; "x" ] ])
    Assert.Equal(Reply.Integer -1L, last [ [ "RPUSH"; "l"; "a" ]; [ "LINSERT"; "l"; "before"; "zz"; "x" ] ])
    Assert.Equal(Reply.ok, last [ [ "LTRIM"; "nol"; "0"; "1" ] ])
    Assert.Equal(Reply.zero, last [ [ "RPUSH"; "l"; "a"; "b" ]; [ "LTRIM"; "l"; "5"; "2" ]; [ "EXISTS"; "l" ] ])
    Assert.Equal(Reply.notInteger, last [ [ "LRANGE"; "l"; "0"; "99999999999999999999" ] ])

[<Fact>]
let ``LPOS options and their errors`` () =
    let l = [ "RPUSH"; "l"; "a"; "b"; "c"; "a" ]
    Assert.Equal(
        err "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
        last [ l; [ "LPOS"; "l"; "a"; "RANK"; "0" ] ])
    Assert.Equal(Reply.notInteger, last [ l; [ "LPOS"; "l"; "a"; "RANK"; "x" ] ])
    Assert.Equal(err "ERR COUNT can't be negative", last [ l; [ "LPOS"; "l"; "a"; "COUNT"; "-1" ] ])
    Assert.Equal(err "ERR COUNT can't be negative", last [ l; [ "LPOS"; "l"; "a"; "COUNT"; "x" ] ])
    Assert.Equal(err "ERR MAXLEN can't be negative", last [ l; [ "LPOS"; "l"; "a"; "MAXLEN"; "x" ] ])
    Assert.Equal(Reply.syntaxError, last [ l; [ "LPOS"; "l"; "a"; "RANK" ] ])
    Assert.Equal(Reply.syntaxError, last [ l; [ "LPOS"; "l"; "a"; "foo" ] ])
    Assert.Equal(Reply.emptyArray, last [ [ "LPOS"; "nol"; "a"; "COUNT"; "1" ] ])
    Assert.Equal(Reply.Array [| int' 3 |], last [ l; [ "LPOS"; "l"; "a"; "RANK"; "-1"; "COUNT"; "0"; "MAXLEN"; "2" ] ])
    Assert.Equal(Reply.emptyArray, last [ l; [ "LPOS"; "l"; "a"; "RANK"; "2"; "COUNT"; "0"; "MAXLEN"; "3" ] ])
    Assert.Equal(int' 0, last [ l; [ "LPOS"; "l"; "a"; "RANK"; "-2" ] ])
    Assert.Equal(Reply.Nil, last [ l; [ "LPOS"; "l"; "a"; "RANK"; "3" ] ])
    Assert.Equal(int' 3, last [ l; [ "LPOS"; "l"; "a"; "RANK"; "-9223372036854775808" ] ])

[<Fact>]
let ``LMPOP and BLMPOP argument errors`` () =
    let numkeys = err "ERR numkeys should be greater than 0"
    let count = err "ERR count should be greater than 0"
    Assert.Equal(numkeys, last [ [ "LMPOP"; "0"; "LEFT"; "l" ] ])
    Assert.Equal(numkeys, last [ [ "LMPOP"; "x"; "l"; "LEFT" ] ])
    Assert.Equal(numkeys, last [ [ "LMPOP"; "99999999999999999999"; "l"; "LEFT" ] ])
    Assert.Equal(Reply.syntaxError, last [ [ "LMPOP"; "1"; "l"; "MIDDLE" ] ])
    Assert.Equal(count, last [ [ "LMPOP"; "1"; "l"; "LEFT"; "COUNT"; "0" ] ])
    Assert.Equal(count, last [ [ "LMPOP"; "1"; "l"; "LEFT"; "COUNT"; "x" ] ])
    Assert.Equal(Reply.syntaxError, last [ [ "LMPOP"; "1"; "l"; "LEFT"; "COUNT"; "1"; "COUNT"; "1" ] ])
    Assert.Equal(Reply.syntaxError, last [ [ "LMPOP"; "5"; "l"; "LEFT" ] ])
    Assert.Equal(Reply.syntaxError, last [ [ "LMPOP"; "2"; "nol"; "l"; "RIGHT"; "COUNT" ] ])
    Assert.Equal(err "ERR wrong number of arguments for 'lmpop' command", last [ [ "LMPOP"; "1"; "l" ] ])
    Assert.Equal(numkeys, last [ [ "BLMPOP"; "x"; "0"; "l"; "LEFT" ] ])
    Assert.Equal(err "ERR timeout is not a float or out of range", last [ [ "BLMPOP"; "x"; "1"; "l"; "LEFT" ] ])
    Assert.Equal(Reply.syntaxError, last [ [ "BLMPOP"; "x"; "1"; "l"; "MIDDLE" ] ])
    Assert.Equal(count, last [ [ "BLMPOP"; "x"; "1"; "l"; "LEFT"; "COUNT"; "0" ] ])
    Assert.Equal(err "ERR timeout is negative", last [ [ "BLMPOP"; "-1"; "1"; "l"; "LEFT" ] ])
    Assert.Equal(
        Reply.Array [| bulk "l"; bulksOf [ "c"; "b" ] |],
        last [ [ "RPUSH"; "l"; "a"; "b"; "c" ]; [ "LMPOP"; "2"; "nol"; "l"; "RIGHT"; "COUNT"; "2" ] ])
    Assert.Equal(wrongType, last [ [ "SET"; "s"; "x" ]; [ "LMPOP"; "2"; "nol"; "s"; "LEFT" ] ])
    Assert.Equal(Reply.Array [| bulk "l"; bulksOf [ "a" ] |], last [ [ "SET"; "s"; "x" ]; [ "RPUSH"; "l"; "a" ]; [ "LMPOP"; "2"; "l"; "s"; "LEFT" ] ])

[<Fact>]
let ``blocking timeouts are parsed as Redis does`` () =
    let notFloat = err "ERR timeout is not a float or out of range"
    let negative = err "ERR timeout is negative"
    Assert.Equal(notFloat, last [ [ "BLPOP"; "l"; "x" ] ])
    Assert.Equal(negative, last [ [ "BLPOP"; "l"; "-1" ] ])
    Assert.Equal(negative, last [ [ "BLPOP"; "l"; "inf" ] ])
    Assert.Equal(negative, last [ [ "BLPOP"; "l"; "1e400" ] ])
    Assert.Equal(notFloat, last [ [ "BRPOPLPUSH"; "a"; "b"; "x" ] ])
    Assert.Equal(Reply.syntaxError, last [ [ "BLMOVE"; "a"; "b"; "LEFT"; "MID"; "x" ] ])
    Assert.Equal(notFloat, last [ [ "BLMOVE"; "a"; "b"; "LEFT"; "LEFT"; "x" ] ])
    Assert.Equal(negative, last [ [ "BLMOVE"; "a"; "b"; "left"; "right"; "-1" ] ])

    let blocking (args: string list) =
        match Command.parse (bs args) with
        | Ok(Request.Data cmd) -> Command.blocking cmd
        | _ -> ValueNone

    Assert.Equal(ValueSome(struct (0.01, Reply.NilArray)), blocking [ "BLPOP"; "l"; "0.01" ])
    Assert.Equal(ValueSome(struct (0.0, Reply.NilArray)), blocking [ "BLMPOP"; "0"; "1"; "l"; "LEFT" ])
    Assert.Equal(ValueSome(struct (2.0, Reply.Nil)), blocking [ "BRPOPLPUSH"; "a"; "b"; "2" ])
    Assert.Equal(ValueSome(struct (0.0, Reply.Nil)), blocking [ "BLMOVE"; "a"; "b"; "LEFT"; "RIGHT"; "0" ])
    Assert.Equal(ValueNone, blocking [ "LMOVE"; "a"; "b"; "LEFT"; "RIGHT" ])

[<Fact>]
let ``blocking pops serve at once, block on nothing, and refuse a key of another type`` () =
    Assert.Equal(Reply.Array [| bulk "l"; bulk "a" |], last [ [ "RPUSH"; "l"; "a"; "b"; "c" ]; [ "RPUSH"; "l2"; "x" ]; [ "BLPOP"; "nol"; "l"; "l2"; "0" ] ])
    Assert.Equal(Reply.Array [| bulk "l"; bulk "c" |], last [ [ "RPUSH"; "l"; "a"; "b"; "c" ]; [ "BRPOP"; "nol"; "l"; "0" ] ])
    Assert.Equal(blockedMark, last [ [ "BLPOP"; "nol"; "0" ] ])
    Assert.Equal(wrongType, last [ [ "SET"; "s"; "x" ]; [ "BLPOP"; "nol"; "s"; "0" ] ])
    Assert.Equal(blockedMark, last [ [ "SET"; "s"; "x" ]; [ "BLMOVE"; "nol"; "s"; "LEFT"; "LEFT"; "0" ] ])
    Assert.Equal(wrongType, last [ [ "SET"; "s"; "x" ]; [ "RPUSH"; "l"; "a" ]; [ "BLMOVE"; "l"; "s"; "LEFT"; "LEFT"; "0" ] ])
    Assert.Equal(wrongType, last [ [ "SET"; "s"; "x" ]; [ "RPUSH"; "l"; "a" ]; [ "RPOPLPUSH"; "l"; "s" ] ])
    Assert.Equal(Reply.Nil, last [ [ "SET"; "s"; "x" ]; [ "LMOVE"; "nol"; "s"; "LEFT"; "LEFT" ] ])

[<Fact>]
let ``LMOVE onto the same list rotates it`` () =
    let replies, _ = session [ [ "RPUSH"; "l"; "a"; "b"; "c" ]; [ "LMOVE"; "l"; "l"; "LEFT"; "RIGHT" ]; [ "LRANGE"; "l"; "0"; "-1" ] ]
    Assert.Equal<Reply list>([ int' 3; bulk "a"; bulksOf [ "b"; "c"; "a" ] ], replies)

let private logged (cmds: string list list) =
    snd (session cmds) |> List.map (fun e -> Event.toArgs e.Op |> Array.map Bytes.toString |> List.ofArray)

[<Fact>]
let ``served blocking and choosing commands are logged as the plain pop or move they did`` () =
    let setup = [ "RPUSH"; "l"; "a"; "b"; "c" ]
    Assert.Equal<string list list>([ [ "LPOP"; "l" ] ], logged [ setup; [ "BLPOP"; "nol"; "l"; "0" ] ] |> List.tail)
    Assert.Equal<string list list>([ [ "RPOP"; "l"; "3" ] ], logged [ setup; [ "BLMPOP"; "0"; "1"; "l"; "RIGHT"; "COUNT"; "9" ] ] |> List.tail)
    Assert.Equal<string list list>([ [ "LMOVE"; "l"; "d"; "RIGHT"; "LEFT" ] ], logged [ setup; [ "BRPOPLPUSH"; "l"; "d"; "0" ] ] |> List.tail)
    Assert.Equal<string list list>([ [ "LPUSH"; "l"; "z" ] ], logged [ setup; [ "LPUSHX"; "l"; "z" ] ] |> List.tail)
    Assert.Equal<string list list>([], logged [ [ "LPUSHX"; "nol"; "z" ]; [ "LREM"; "nol"; "0"; "a" ]; [ "LTRIM"; "nol"; "0"; "1" ] ])

[<Fact>]
let ``Redis's own spellings of list commands are read back from an AOF`` () =
    let read (args: string list) = Event.ofArgs 0 (bs args) |> Result.map (fun e -> e.Op)
    Assert.True(read [ "rpoplpush"; "a"; "b" ] = Ok(Op.Lists(ListOp.Move(b "a", b "b", false, true))))
    let ks = Evolve.replay (Keyspace.create 1) [ for c in [ [ "RPUSH"; "a"; "1"; "2" ]; [ "RPOPLPUSH"; "a"; "b" ]; [ "LPUSHX"; "b"; "0" ]; [ "RPUSHX"; "c"; "0" ]; [ "LPOP"; "a" ] ] ->
                                                      match Event.ofArgs 0 (bs c) with Ok e -> e | Error m -> failwith m ]
    let expected = Map.ofList [ 0, Map.ofList [ "b", (Plain.List [ b "0"; b "2" ], Expiry.none) ] ]
    Assert.Equal<Map<int, Map<string, Plain * int64>>>(expected, Keyspace.toMap ks)

// ---------------------------------------------------------------------------------------------------------
// DEBUG DIGEST-VALUE, as redis-server 7.0.15 (--enable-debug-command yes) answered for the same lists.

[<Fact>]
let ``a list's digest is Redis's`` () =
    let digest (xs: string list) (at: int64) = Digest.value (ValueSome(Entry(Value.List(PList.ofSeq (List.map b xs)), at)))
    // RPUSH l a
    Assert.Equal("9f9b4ebb7ec9fb8b52717ecab999fbde97541a50", digest [ "a" ] Expiry.none)
    // RPUSH l a b c
    Assert.Equal("8bf72d812571eea9b927f3c11beb0c4165a6ff89", digest [ "a"; "b"; "c" ] Expiry.none)
    // ... then EXPIRE l 100
    Assert.Equal("6d72d37ef94804fd783118395e81c3da7f08be0a", digest [ "a"; "b"; "c" ] 4102444800000L)
    // ... then LPUSH l 12345 (an integer element digests as its text)
    Assert.Equal("094a7b18f5d1e35aeb1d14544ac5721e9b9aed46", digest [ "12345"; "a"; "b"; "c" ] 4102444800000L)

[<Fact>]
let ``only reading list commands count keyspace hits and misses, as in redis-server 7.0.15's INFO stats`` () =
    let stats (setup: string list list) (args: string list) =
        let ks =
            setup
            |> List.fold
                (fun ks c ->
                    match Command.parse (bs c) with
                    | Ok(Request.Data cmd) -> Evolve.replay ks (Decide.decide (ctxAt start) ks 0 cmd).Events
                    | _ -> ks)
                (Keyspace.create 1)

        match Command.parse (bs args) with
        | Ok(Request.Data cmd) ->
            let d = Decide.decide (ctxAt start) ks 0 cmd
            d.Hits, d.Misses
        | other -> failwithf "%A" other

    let l = [ [ "RPUSH"; "l"; "a"; "b" ] ]
    Assert.Equal((0, 0), stats l [ "LPOP"; "l" ])
    Assert.Equal((0, 0), stats [] [ "LPOP"; "nol" ])
    Assert.Equal((0, 0), stats l [ "BLPOP"; "l"; "0" ])
    Assert.Equal((0, 0), stats l [ "LMOVE"; "l"; "d"; "LEFT"; "LEFT" ])
    Assert.Equal((0, 0), stats l [ "LMPOP"; "1"; "l"; "LEFT" ])
    Assert.Equal((0, 1), stats [] [ "LLEN"; "nol" ])
    Assert.Equal((0, 1), stats [] [ "LRANGE"; "nol"; "0"; "1" ])
    Assert.Equal((1, 0), stats l [ "LINDEX"; "l"; "0" ])
