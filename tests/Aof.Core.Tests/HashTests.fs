module Aof.Core.Tests.HashTests

open System
open System.Collections.Generic
open System.Globalization
open Xunit
open FsCheck
open FsCheck.FSharp
open Aof.Core
open Aof.Core.Tests.DecideTests

// ---------------------------------------------------------------------------------------------------------
// A plain, mutable reference model of Redis 7.0's hash commands (plus the few string and key commands the
// sessions mix in), written from the documented behaviour, not from HashesDecide.

type private MValue =
    | MStr of byte[]
    | MHash of Dictionary<string, byte[]>

type private MEntry = { mutable Value: MValue; mutable Exp: int64 }

/// What the model expects of a reply: Redis answers hash-ordered replies in an order of its own, and
/// HRANDFIELD at random, so some replies are compared as multisets or only checked for validity.
type private Expect =
    | Exact of Reply
    /// An array compared as a multiset of `chunk`-sized runs (2 for field-value pairs).
    | AnyOrder of chunk: int * Reply
    /// HSCAN: cursor exact, the elements as a multiset of pairs.
    | ScanAnyOrder of cursor: string * Reply
    | Satisfies of what: string * (Reply -> bool)

let private s (b: byte[]) = Bytes.toString b
let private bulk (x: string) = Reply.Bulk(Bytes.ofString x)
let private wrongType = Reply.Error "WRONGTYPE Operation against a key holding the wrong kind of value"

/// Redis's integer syntax: no sign `+`, no leading zeros, no spaces, within 64 bits.
let private modelInt (text: string) : int64 option =
    let shapeOk =
        text = "0"
        || (text.Length > 0
            && (let digits = if text.StartsWith "-" then text.Substring 1 else text
                digits.Length > 0 && digits[0] <> '0' && digits |> Seq.forall Char.IsAsciiDigit))

    match shapeOk, Int64.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) with
    | true, (true, n) -> Some n
    | _ -> None

/// Only the simple decimal texts the sessions use: exact in decimal, printed without trailing zeros.
let private modelFloat (text: string) : decimal option =
    if text.Length = 0 || text |> Seq.exists Char.IsWhiteSpace then None
    else
        match Decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture) with
        | true, d -> Some d
        | _ -> None

/// A long double keeps 64 significant bits: at and above 2^62 the sessions' sums (multiples of 1/4) round,
/// half to even, to a multiple of 2^(e-63) where 2^e <= |x| < 2^(e+1). Below that they are exact.
let private asLongDouble (x: decimal) : decimal =
    let a = abs x
    let mutable p = 1m
    let mutable e = 0

    while p * 2m <= a do
        p <- p * 2m
        e <- e + 1

    if e < 62 then
        x
    else
        let spacing = p / 9223372036854775808m
        Decimal.Round(x / spacing, MidpointRounding.ToEven) * spacing

let private formatDecimal (d: decimal) : string =
    // Dividing by 1.000... drops trailing zeros from the scale.
    (d / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture)

/// Glob with `*` and `?` only (all the sessions use); an empty field matches no non-empty pattern.
let rec private globMatch (p: string) (t: string) =
    if p.Length = 0 then t.Length = 0
    elif p[0] = '*' then globMatch (p.Substring 1) t || (t.Length > 0 && globMatch p (t.Substring 1))
    elif t.Length = 0 then false
    elif p[0] = '?' || p[0] = t[0] then globMatch (p.Substring 1) (t.Substring 1)
    else false

type private HashModel() =
    let keys = Dictionary<string, MEntry>()
    member val Now = 0L with get, set

    member m.Purge(k: string) =
        match keys.TryGetValue k with
        | true, e when e.Exp >= 0L && e.Exp <= m.Now -> keys.Remove k |> ignore
        | _ -> ()

    member _.Find(k: string) =
        match keys.TryGetValue k with
        | true, e -> Some e
        | _ -> None

    member _.Keys = keys

    member _.ToMap() : Map<int, Map<string, Plain * int64>> =
        let picture (e: MEntry) =
            match e.Value with
            | MStr v -> Plain.Str v
            | MHash h -> Plain.Hash(h |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq)

        let db = keys |> Seq.map (fun kv -> kv.Key, (picture kv.Value, kv.Value.Exp)) |> Map.ofSeq
        if db.IsEmpty then Map.empty else Map.ofList [ 0, db ]

/// Runs one well-formed command against the model.
let private runModel (m: HashModel) (a: string list) : Expect =
    let name = a.Head.ToUpperInvariant()
    let k = a[1]
    m.Purge k

    let hashOf () =
        match m.Find k with
        | None -> Ok None
        | Some { Value = MHash h } -> Ok(Some h)
        | Some _ -> Error wrongType

    let orCreate () =
        match m.Find k with
        | Some { Value = MHash h } -> h
        | _ ->
            let h = Dictionary<string, byte[]>()
            m.Keys[k] <- { Value = MHash h; Exp = -1L }
            h

    let dropIfEmpty () =
        match m.Find k with
        | Some { Value = MHash h } when h.Count = 0 -> m.Keys.Remove k |> ignore
        | _ -> ()

    let arr (xs: seq<Reply>) = Reply.Array(Array.ofSeq xs)
    let exact r = Exact r

    let onHash (f: Dictionary<string, byte[]> option -> Expect) =
        match hashOf () with
        | Error e -> Exact e
        | Ok h -> f h

    match name with
    | "SET" ->
        m.Keys[k] <- { Value = MStr(Bytes.ofString a[2]); Exp = -1L }
        exact Reply.ok
    | "GET" ->
        match m.Find k with
        | None -> exact Reply.Nil
        | Some { Value = MStr v } -> exact (Reply.Bulk v)
        | Some _ -> exact wrongType
    | "DEL" -> exact (Reply.Integer(if m.Keys.Remove k then 1L else 0L))
    | "PEXPIRE" ->
        match m.Find k with
        | Some e ->
            e.Exp <- m.Now + int64 a[2]
            exact Reply.one
        | None -> exact Reply.zero
    | "HSET"
    | "HMSET" ->
        onHash (fun _ ->
            let h = orCreate ()
            let mutable added = 0

            for i in 2..2 .. a.Length - 1 do
                if not (h.ContainsKey a[i]) then added <- added + 1
                h[a[i]] <- Bytes.ofString a[i + 1]

            exact (if name = "HMSET" then Reply.ok else Reply.Integer(int64 added)))
    | "HSETNX" ->
        onHash (fun h ->
            match h with
            | Some h when h.ContainsKey a[2] -> exact Reply.zero
            | _ ->
                (orCreate ())[a[2]] <- Bytes.ofString a[3]
                exact Reply.one)
    | "HGET" ->
        onHash (fun h ->
            match h with
            | Some h when h.ContainsKey a[2] -> exact (Reply.Bulk h[a[2]])
            | _ -> exact Reply.Nil)
    | "HMGET" ->
        onHash (fun h ->
            exact (
                arr [ for f in a[2..] ->
                          match h with
                          | Some h when h.ContainsKey f -> Reply.Bulk h[f]
                          | _ -> Reply.Nil ]
            ))
    | "HDEL" ->
        onHash (fun h ->
            match h with
            | None -> exact Reply.zero
            | Some h ->
                let n = a[2..] |> List.sumBy (fun f -> if h.Remove f then 1 else 0)
                dropIfEmpty ()
                exact (Reply.Integer(int64 n)))
    | "HLEN" -> onHash (fun h -> exact (Reply.Integer(h |> Option.map (fun h -> int64 h.Count) |> Option.defaultValue 0L)))
    | "HSTRLEN" ->
        onHash (fun h ->
            match h with
            | Some h when h.ContainsKey a[2] -> exact (Reply.Integer(int64 h[a[2]].Length))
            | _ -> exact Reply.zero)
    | "HEXISTS" -> onHash (fun h -> exact (if h.IsSome && h.Value.ContainsKey a[2] then Reply.one else Reply.zero))
    | "HGETALL" ->
        onHash (fun h ->
            AnyOrder(2, arr [ for kv in defaultArg h (Dictionary()) do yield bulk kv.Key; yield Reply.Bulk kv.Value ]))
    | "HKEYS" -> onHash (fun h -> AnyOrder(1, arr [ for kv in defaultArg h (Dictionary()) -> bulk kv.Key ]))
    | "HVALS" -> onHash (fun h -> AnyOrder(1, arr [ for kv in defaultArg h (Dictionary()) -> Reply.Bulk kv.Value ]))
    | "HINCRBY" ->
        onHash (fun h ->
            let by = int64 a[3]

            let current =
                match h with
                | Some h when h.ContainsKey a[2] -> modelInt (s h[a[2]])
                | _ -> Some 0L

            match current with
            | None -> exact (Reply.Error "ERR hash value is not an integer")
            | Some n ->
                let sum = bigint n + bigint by

                if sum > bigint Int64.MaxValue || sum < bigint Int64.MinValue then
                    exact (Reply.Error "ERR increment or decrement would overflow")
                else
                    (orCreate ())[a[2]] <- Bytes.ofString (string (int64 sum))
                    exact (Reply.Integer(int64 sum)))
    | "HINCRBYFLOAT" ->
        onHash (fun h ->
            let current =
                match h with
                | Some h when h.ContainsKey a[2] -> modelFloat (s h[a[2]])
                | _ -> Some 0m

            match current with
            | None -> exact (Reply.Error "ERR hash value is not a float")
            | Some x ->
                let text = formatDecimal (asLongDouble (x + (modelFloat a[3]).Value))
                (orCreate ())[a[2]] <- Bytes.ofString text
                exact (bulk text))
    | "HRANDFIELD" ->
        onHash (fun h ->
            // A copy: the check runs after the whole session, when the model has moved on.
            let fields = match h with Some h -> Dictionary(h) | None -> Dictionary()

            if a.Length = 2 then
                if h.IsNone then exact Reply.Nil
                else Satisfies("one field", (function Reply.Bulk f -> fields.ContainsKey(s f) | _ -> false))
            elif h.IsNone then
                exact Reply.emptyArray
            else
                let n = int a[2]
                let withValues = a.Length = 4
                let per = if withValues then 2 else 1

                let valid (items: Reply[]) =
                    items.Length % per = 0
                    && items
                       |> Array.chunkBySize per
                       |> Array.forall (fun c ->
                           match c with
                           | [| Reply.Bulk f |] -> fields.ContainsKey(s f)
                           | [| Reply.Bulk f; Reply.Bulk v |] -> fields.ContainsKey(s f) && fields[s f] = v
                           | _ -> false)

                let expected = if n >= 0 then min n fields.Count else -n

                Satisfies(
                    sprintf "%d valid picks" expected,
                    function
                    | Reply.Array items ->
                        items.Length = expected * per
                        && valid items
                        && (n < 0
                            || (items |> Array.chunkBySize per |> Array.map (fun c -> c[0]) |> Array.distinct).Length = expected)
                    | _ -> false
                ))
    | "HSCAN" ->
        onHash (fun h ->
            let pattern =
                match List.tryFindIndex (fun (x: string) -> x.ToUpperInvariant() = "MATCH") a with
                | Some i -> a[i + 1]
                | None -> "*"

            let keep f = pattern = "*" || globMatch pattern f

            ScanAnyOrder(
                "0",
                arr [ for kv in defaultArg h (Dictionary()) do
                          if keep kv.Key then
                              yield bulk kv.Key
                              yield Reply.Bulk kv.Value ]
            ))
    | other -> failwithf "the model has no %s" other

let private sameMultiset (chunk: int) (a: Reply) (b: Reply) =
    match a, b with
    | Reply.Array xs, Reply.Array ys ->
        let norm (zs: Reply[]) = zs |> Array.chunkBySize chunk |> Array.map (Array.map (sprintf "%A")) |> Array.sort
        xs.Length % chunk = 0 && norm xs = norm ys
    | _ -> false

let private meets (expect: Expect) (actual: Reply) : bool =
    match expect with
    | Exact r -> r = actual
    | AnyOrder(chunk, r) -> sameMultiset chunk r actual
    | ScanAnyOrder(cursor, r) ->
        match actual with
        | Reply.Array [| Reply.Bulk c; items |] -> s c = cursor && sameMultiset 2 r items
        | _ -> false
    | Satisfies(_, ok) -> ok actual

// ---------------------------------------------------------------------------------------------------------
// Sessions: a small alphabet of keys, fields and values, so commands collide, fields repeat, hashes empty
// out, string keys answer WRONGTYPE and a few keys expire.

let private genKey = Gen.elements [ "h"; "i"; "s" ]
let private genField = Gen.elements [ "f"; "g"; "fb"; "" ]
let private genValue = Gen.elements [ "1"; "x"; "-3"; ""; "1.5"; "10"; "9223372036854775807" ]

let private genArgs: Gen<string list> =
    let k, f, v = genKey, genField, genValue

    Gen.frequency
        [ 6, Gen.map3 (fun k f v -> [ "HSET"; k; f; v ]) k f v
          3, gen {
              let! k = k
              let! pairs = Gen.listOfLength 3 (Gen.map2 (fun f v -> [ f; v ]) f v)
              let! name = Gen.elements [ "HSET"; "HMSET" ]
              return name :: k :: List.concat pairs
          }
          2, Gen.map3 (fun k f v -> [ "HSETNX"; k; f; v ]) k f v
          3, Gen.map2 (fun k f -> [ "HGET"; k; f ]) k f
          2, Gen.map3 (fun k f g -> [ "HMGET"; k; f; g ]) k f f
          4, Gen.map3 (fun k f g -> [ "HDEL"; k; f; g ]) k f f
          2, Gen.map2 (fun k f -> [ "HDEL"; k; f ]) k f
          2, Gen.map (fun k -> [ "HLEN"; k ]) k
          1, Gen.map2 (fun k f -> [ "HSTRLEN"; k; f ]) k f
          1, Gen.map2 (fun k f -> [ "HEXISTS"; k; f ]) k f
          2, Gen.map (fun k -> [ "HGETALL"; k ]) k
          1, Gen.map (fun k -> [ "HKEYS"; k ]) k
          1, Gen.map (fun k -> [ "HVALS"; k ]) k
          3, Gen.map3 (fun k f n -> [ "HINCRBY"; k; f; n ]) k f (Gen.elements [ "1"; "-5"; "9223372036854775807"; "-9223372036854775808" ])
          3, Gen.map3 (fun k f n -> [ "HINCRBYFLOAT"; k; f; n ]) k f (Gen.elements [ "0.5"; "-1.25"; "3"; "1e3" ])
          1, Gen.map (fun k -> [ "HRANDFIELD"; k ]) k
          2, gen {
              let! k = k
              let! n = Gen.elements [ "-3"; "-1"; "0"; "1"; "2"; "5" ]
              let! wv = Gen.elements [ []; [ "WITHVALUES" ] ]
              return [ "HRANDFIELD"; k; n ] @ wv
          }
          2, gen {
              let! k = k
              let! m = Gen.elements [ []; [ "MATCH"; "*" ]; [ "MATCH"; "f*" ]; [ "MATCH"; "?" ]; [ "MATCH"; "*b" ] ]
              let! c = Gen.elements [ []; [ "COUNT"; "1" ] ]
              return [ "HSCAN"; k; "0" ] @ m @ c
          }
          2, Gen.map2 (fun k v -> [ "SET"; k; v ]) (Gen.elements [ "s"; "h" ]) v
          1, Gen.map (fun k -> [ "GET"; k ]) k
          1, Gen.map (fun k -> [ "DEL"; k ]) k
          1, Gen.map2 (fun k t -> [ "PEXPIRE"; k; t ]) k (Gen.choose (1, 3000) |> Gen.map string) ]

let private genSteps: Gen<Step list> =
    Gen.map2 (fun adv args -> { Advance = int64 adv; Args = args }) (Gen.frequency [ 4, Gen.constant 0; 1, Gen.choose (1, 1500) ]) genArgs
    |> Gen.listOf

let private config = Config.QuickThrowOnFailure.WithMaxTest(400)
let private check (prop: Step list -> bool) = Check.One(config, Prop.forAll (Arb.fromGen genSteps) prop)

let private modelRun (steps: Step list) : Expect list * HashModel =
    let m = HashModel()
    m.Now <- start

    let expects =
        [ for st in steps do
              m.Now <- m.Now + st.Advance
              runModel m st.Args ]

    expects, m

[<Fact>]
let ``hash commands agree with the reference model on replies and final state`` () =
    check (fun steps ->
        let real = runReal steps
        let expects, model = modelRun steps

        List.zip3 steps expects real.Replies
        |> List.iteri (fun i (st, e, r) ->
            if not (meets e r) then failwithf "step %d %A: expected %A, got %A" i st.Args e r)

        let live = Keyspace.toMap real.Final
        let pictured = model.ToMap()
        if live <> pictured then failwithf "final state: live %A, model %A" live pictured
        true)

[<Fact>]
let ``the logged events read back through their AOF form and replay to the live state`` () =
    check (fun steps ->
        let real = runReal steps

        let reparsed = Replay.throughArgs real.Events

        reparsed = real.Events
        && Keyspace.toMap (Evolve.replay (Keyspace.create databases) reparsed) = Keyspace.toMap real.Final)

let private aliveAt (now: int64) (ks: Keyspace) =
    Keyspace.toMap ks
    |> Map.map (fun _ keys -> keys |> Map.filter (fun _ (_, at) -> at = Expiry.none || at > now))
    |> Map.filter (fun _ keys -> not keys.IsEmpty)

let private hsetPairs (e: Event) =
    match e.Op with
    | Op.Hashes(HashOp.HSet(_, pairs)) -> pairs.Length
    | _ -> 0

[<Fact>]
let ``replay of the rewrite of a session equals the live state`` () =
    check (fun steps ->
        let real = runReal steps
        let rewrite = Rewrite.project real.Now real.Final |> List.ofSeq
        let rebuilt = Evolve.replay (Keyspace.create databases) rewrite
        aliveAt real.Now rebuilt = aliveAt real.Now real.Final && rewrite |> List.forall (fun e -> hsetPairs e <= 64))

let private bigHash (n: int) (valueLen: int) : ChampMap<byte[]> =
    Champ.ofSeq [ for i in 0 .. n - 1 -> Bytes.ofString $"field:{i}", Bytes.ofString (String('v', valueLen) + string i) ]

[<Fact>]
let ``a hash rewrites as HSETs of at most 64 pairs that replay to it`` () =
    Check.One(
        Config.QuickThrowOnFailure.WithMaxTest(60),
        Prop.forAll (Arb.fromGen (Gen.choose (1, 700))) (fun n ->
            let h = bigHash n 3
            let ops = HashOp.project "k"B h
            let rebuilt = ops |> List.fold (fun db op -> HashOp.apply op db) Db.empty

            let same =
                match Db.tryFind "k"B rebuilt with
                | ValueSome e ->
                    match e.Value with
                    | Value.Hash h2 -> Champ.equalsBy Bytes.equal h h2
                    | _ -> false
                | ValueNone -> false

            same
            && ops.Length = (n + 63) / 64
            && ops |> List.forall (fun op -> match op with HashOp.HSet(_, ps) -> ps.Length <= 64 | _ -> false))
    )

// ---------------------------------------------------------------------------------------------------------
// Examples checked against redis-server 7.0.15 (redis-cli against `redis-server --save '' --appendonly no`).

let private ctxAt (rnd: uint64) : Ctx = { Now = 1000L; NowMicros = 1_000_000L; Random = rnd; MaxBulkLen = 1L <<< 29 }

/// Runs commands from an empty keyspace; returns every reply and the events of the last command.
let private session (rnd: uint64) (cmds: string list list) : Reply list * Event list * Keyspace =
    let mutable ks = Keyspace.create 1
    let mutable last = []

    let replies =
        [ for c in cmds do
              match Command.parse (c |> List.map Bytes.ofString |> Array.ofList) with
              | Ok(Request.Data cmd) ->
                  let struct (ks2, d) = Decide.step (ctxAt rnd) ks 0 cmd
                  ks <- ks2
                  last <- d.Events
                  yield d.Reply
              | Ok other -> failwithf "not a data command: %A" other
              | Error e ->
                  last <- []
                  yield e ]

    replies, last, ks

let private lastReply (cmds: string list list) = let r, _, _ = session 1UL cmds in List.last r
let private err (text: string) = Reply.Error text
let private arrayOf (xs: string list) = Reply.Array [| for x in xs -> bulk x |]

[<Fact>]
let ``argument counts are refused as Redis 7 refuses them`` () =
    Assert.Equal(err "ERR wrong number of arguments for 'hset' command", lastReply [ [ "HSET"; "h"; "a" ] ])
    Assert.Equal(err "ERR wrong number of arguments for 'hset' command", lastReply [ [ "HSET"; "h"; "a"; "1"; "b" ] ])
    Assert.Equal(err "ERR wrong number of arguments for 'hmset' command", lastReply [ [ "HMSET"; "h"; "a"; "1"; "b" ] ])
    Assert.Equal(err "ERR wrong number of arguments for 'hsetnx' command", lastReply [ [ "HSETNX"; "h"; "a" ] ])
    Assert.Equal(err "ERR wrong number of arguments for 'hscan' command", lastReply [ [ "HSCAN"; "h" ] ])
    Assert.Equal(err "ERR wrong number of arguments for 'hrandfield' command", lastReply [ [ "HRANDFIELD" ] ])

[<Fact>]
let ``every hash command answers WRONGTYPE on a string key`` () =
    let onString (cmd: string list) = lastReply [ [ "SET"; "s"; "x" ]; cmd ]

    for cmd in
        [ [ "HSET"; "s"; "a"; "1" ]; [ "HMSET"; "s"; "a"; "1" ]; [ "HSETNX"; "s"; "a"; "1" ]; [ "HGET"; "s"; "a" ]
          [ "HMGET"; "s"; "a" ]; [ "HDEL"; "s"; "a" ]; [ "HLEN"; "s" ]; [ "HSTRLEN"; "s"; "a" ]; [ "HEXISTS"; "s"; "a" ]
          [ "HGETALL"; "s" ]; [ "HKEYS"; "s" ]; [ "HVALS"; "s" ]; [ "HINCRBY"; "s"; "a"; "1" ]
          [ "HINCRBYFLOAT"; "s"; "a"; "1" ]; [ "HRANDFIELD"; "s" ]; [ "HRANDFIELD"; "s"; "0" ]; [ "HRANDFIELD"; "s"; "-1" ]
          [ "HSCAN"; "s"; "0" ]; [ "HSCAN"; "s"; "0"; "COUNT"; "0" ] ] do
        Assert.Equal(wrongType, onString cmd)

[<Fact>]
let ``argument errors come before the key is looked at`` () =
    let onString (cmd: string list) = lastReply [ [ "SET"; "s"; "x" ]; cmd ]
    Assert.Equal(err "ERR value is not an integer or out of range", onString [ "HINCRBY"; "s"; "a"; "x" ])
    Assert.Equal(err "ERR value is not a valid float", onString [ "HINCRBYFLOAT"; "s"; "a"; "x" ])
    Assert.Equal(err "ERR value is NaN or Infinity", onString [ "HINCRBYFLOAT"; "s"; "a"; "inf" ])
    Assert.Equal(err "ERR value is NaN or Infinity", lastReply [ [ "HINCRBYFLOAT"; "nokey"; "a"; "-inf" ] ])
    Assert.Equal(err "ERR value is not a valid float", lastReply [ [ "HINCRBYFLOAT"; "nokey"; "a"; "nan" ] ])
    Assert.Equal(err "ERR value is not a valid float", lastReply [ [ "HINCRBYFLOAT"; "nokey"; "a"; " 1" ] ])
    Assert.Equal(err "ERR value is not an integer or out of range", onString [ "HRANDFIELD"; "s"; "x" ])
    Assert.Equal(err "ERR syntax error", onString [ "HRANDFIELD"; "s"; "1"; "foo" ])
    Assert.Equal(err "ERR syntax error", lastReply [ [ "HRANDFIELD"; "nokey"; "1"; "WITHVALUES"; "x" ] ])
    Assert.Equal(err "ERR invalid cursor", onString [ "HSCAN"; "s"; "x" ])
    Assert.Equal(err "ERR invalid cursor", lastReply [ [ "HSCAN"; "nokey"; "18446744073709551616" ] ])

[<Fact>]
let ``HRANDFIELD's count limits`` () =
    let h = [ "HSET"; "h"; "a"; "1"; "b"; "2" ]
    Assert.Equal(
        err "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        lastReply [ h; [ "HRANDFIELD"; "h"; "-9223372036854775808" ] ]
    )
    Assert.Equal(err "ERR value is out of range", lastReply [ h; [ "HRANDFIELD"; "h"; "-4611686018427387904"; "WITHVALUES" ] ])
    Assert.Equal(err "ERR value is out of range", lastReply [ h; [ "HRANDFIELD"; "h"; "4611686018427387904"; "withvalues" ] ])
    Assert.Equal(err "ERR value is out of range", lastReply [ [ "HRANDFIELD"; "nokey"; "-4611686018427387904"; "WITHVALUES" ] ])
    Assert.Equal(err "ERR value is not an integer or out of range", lastReply [ h; [ "HRANDFIELD"; "h"; "9223372036854775808" ] ])
    Assert.Equal(err "ERR value is not an integer or out of range", lastReply [ h; [ "HRANDFIELD"; "h"; "01" ] ])
    Assert.Equal(4, (match lastReply [ h; [ "HRANDFIELD"; "h"; "4611686018427387903"; "WITHVALUES" ] ] with Reply.Array xs -> xs.Length | _ -> -1))
    Assert.Equal(2, (match lastReply [ h; [ "HRANDFIELD"; "h"; "9223372036854775807" ] ] with Reply.Array xs -> xs.Length | _ -> -1))

[<Fact>]
let ``HRANDFIELD on a missing key, with a zero count, and with repeats`` () =
    let h = [ "HSET"; "h"; "a"; "1"; "b"; "2" ]
    Assert.Equal(Reply.Nil, lastReply [ [ "HRANDFIELD"; "nokey" ] ])
    Assert.Equal(Reply.emptyArray, lastReply [ [ "HRANDFIELD"; "nokey"; "1" ] ])
    Assert.Equal(Reply.emptyArray, lastReply [ [ "HRANDFIELD"; "nokey"; "1"; "WITHVALUES" ] ])
    Assert.Equal(Reply.emptyArray, lastReply [ h; [ "HRANDFIELD"; "h"; "0" ] ])
    Assert.Equal(Reply.emptyArray, lastReply [ h; [ "HRANDFIELD"; "h"; "0"; "WITHVALUES" ] ])
    // A count above the size gives every field once; a negative one exactly |count| picks, pairs intact.
    match lastReply [ h; [ "HRANDFIELD"; "h"; "-3"; "WITHVALUES" ] ] with
    | Reply.Array xs ->
        Assert.Equal(6, xs.Length)
        for pair in Array.chunkBySize 2 xs do
            Assert.True(List.contains pair [ [| bulk "a"; bulk "1" |]; [| bulk "b"; bulk "2" |] ], sprintf "%A" pair)
    | other -> failwithf "%A" other

[<Fact>]
let ``HRANDFIELD's picks follow from the engine's one random number`` () =
    let fill = "HSET" :: "h" :: [ for i in 0..99 do yield $"f{i}"; yield string i ]

    for cmd in [ [ "HRANDFIELD"; "h"; "10" ]; [ "HRANDFIELD"; "h"; "60" ]; [ "HRANDFIELD"; "h"; "-20" ]; [ "HRANDFIELD"; "h" ] ] do
        let once, _, _ = session 7UL [ fill; cmd ]
        let again, _, _ = session 7UL [ fill; cmd ]
        Assert.Equal<Reply list>(once, again)

    // Distinct picks are distinct, for both strategies (a few of many, most of them).
    for n in [ 10; 60; 99 ] do
        match lastReply [ fill; [ "HRANDFIELD"; "h"; string n ] ] with
        | Reply.Array xs -> Assert.Equal(n, (Array.distinct xs).Length)
        | other -> failwithf "%A" other

[<Fact>]
let ``HINCRBY's errors`` () =
    let h = [ "HSET"; "h"; "x"; "x"; "d"; "1.5"; "e"; ""; "sp"; " 5"; "max"; "9223372036854775807"; "min"; "-9223372036854775808" ]
    Assert.Equal(err "ERR hash value is not an integer", lastReply [ h; [ "HINCRBY"; "h"; "x"; "1" ] ])
    Assert.Equal(err "ERR hash value is not an integer", lastReply [ h; [ "HINCRBY"; "h"; "d"; "1" ] ])
    Assert.Equal(err "ERR hash value is not an integer", lastReply [ h; [ "HINCRBY"; "h"; "e"; "1" ] ])
    Assert.Equal(err "ERR hash value is not an integer", lastReply [ h; [ "HINCRBY"; "h"; "sp"; "1" ] ])
    Assert.Equal(err "ERR increment or decrement would overflow", lastReply [ h; [ "HINCRBY"; "h"; "max"; "1" ] ])
    Assert.Equal(err "ERR increment or decrement would overflow", lastReply [ h; [ "HINCRBY"; "h"; "min"; "-1" ] ])
    Assert.Equal(err "ERR value is not an integer or out of range", lastReply [ h; [ "HINCRBY"; "h"; "new"; "01" ] ])
    Assert.Equal(Reply.Integer 5L, lastReply [ h; [ "HINCRBY"; "h"; "new"; "5" ] ])

[<Fact>]
let ``HINCRBYFLOAT's errors and reply texts`` () =
    let h = [ "HSET"; "h"; "x"; "x"; "e"; ""; "inf"; "inf"; "sp"; " 5"; "max"; "9223372036854775807"; "d"; "1.5"; "y"; "5.0e3"; "one"; "1" ]
    let incr f by = lastReply [ h; [ "HINCRBYFLOAT"; "h"; f; by ] ]
    Assert.Equal(err "ERR hash value is not a float", incr "x" "1")
    Assert.Equal(err "ERR hash value is not a float", incr "e" "1")
    Assert.Equal(err "ERR hash value is not a float", incr "sp" "1")
    Assert.Equal(err "ERR increment would produce NaN or Infinity", incr "inf" "1")
    Assert.Equal(bulk "2.5", incr "d" "1")
    Assert.Equal(bulk "1500", incr "new" "1.5e3")
    Assert.Equal(bulk "0.00003", incr "new" "3.0e-5")
    Assert.Equal(bulk "5000", incr "y" "0")
    Assert.Equal(bulk "0", incr "one" "-1.0")
    Assert.Equal(bulk "0", incr "new" "-0.0")
    Assert.Equal(bulk "100000000000000000", incr "new" "1e17")
    Assert.Equal(bulk "2.23456789012345678", incr "one" "1.23456789012345678")
    Assert.Equal(bulk "9223372036854775807.5", incr "max" "0.5")
    Assert.Equal(bulk "0.3", lastReply [ [ "HINCRBYFLOAT"; "h"; "g"; "0.1" ]; [ "HINCRBYFLOAT"; "h"; "g"; "0.2" ] ])

[<Fact>]
let ``HSCAN's options`` () =
    let h = [ "HSET"; "h"; "a"; "1"; "b"; "2"; "c"; "3" ]
    let scan (opts: string list) = lastReply [ h; "HSCAN" :: "h" :: opts ]
    Assert.Equal(err "ERR syntax error", scan [ "0"; "COUNT"; "0" ])
    Assert.Equal(err "ERR syntax error", scan [ "0"; "count"; "-1" ])
    Assert.Equal(err "ERR value is not an integer or out of range", scan [ "0"; "COUNT"; "x" ])
    Assert.Equal(err "ERR syntax error", scan [ "0"; "COUNT" ])
    Assert.Equal(err "ERR syntax error", scan [ "0"; "MATCH" ])
    Assert.Equal(err "ERR syntax error", scan [ "0"; "TYPE"; "string" ])
    Assert.Equal(err "ERR syntax error", scan [ "0"; "NOVALUES" ])
    Assert.Equal(err "ERR syntax error", scan [ "0"; "foo"; "bar" ])
    // A missing key answers an empty scan before its options are read.
    Assert.Equal(Reply.Array [| bulk "0"; Reply.emptyArray |], lastReply [ [ "HSCAN"; "nokey"; "0"; "COUNT"; "x" ] ])
    // A small hash comes whole with cursor 0, whatever the cursor; MATCH filters it and the last MATCH wins.
    let items (r: Reply) =
        match r with
        | Reply.Array [| Reply.Bulk c; Reply.Array xs |] -> s c, Set.ofArray (Array.map (sprintf "%A") xs)
        | o -> failwithf "%A" o

    Assert.Equal(items (Reply.Array [| bulk "0"; arrayOf [ "a"; "1"; "b"; "2" ] |]), items (scan [ "77"; "COUNT"; "1"; "MATCH"; "[ab]" ]))
    Assert.Equal(items (Reply.Array [| bulk "0"; arrayOf [ "c"; "3" ] |]), items (scan [ "0"; "match"; "a*"; "MATCH"; "c" ]))
    Assert.Equal(items (Reply.Array [| bulk "0"; arrayOf [ "a"; "1"; "b"; "2"; "c"; "3" ] |]), items (scan [ "+1" ]))

[<Fact>]
let ``hash writes: counts, HMSET's OK, an emptied hash disappears`` () =
    let replies, _, ks =
        session 1UL
            [ [ "HSET"; "n"; "a"; "1"; "a"; "2" ]
              [ "HGET"; "n"; "a" ]
              [ "HSET"; "n"; "a"; "3"; "b"; "4" ]
              [ "HMSET"; "n"; "c"; "5" ]
              [ "HSETNX"; "n"; "a"; "9" ]
              [ "HSETNX"; "n"; "q"; "9" ]
              [ "HMGET"; "nokey"; "a"; "b" ]
              [ "HSTRLEN"; "n"; "c" ]
              [ "HSTRLEN"; "n"; "zz" ]
              [ "HSTRLEN"; "nokey"; "a" ]
              [ "HLEN"; "nokey" ]
              [ "HGETALL"; "nokey" ]
              [ "HDEL"; "n"; "a"; "a"; "b"; "zz" ]
              [ "HDEL"; "n"; "c"; "q" ]
              [ "HDEL"; "n"; "c" ] ]

    Assert.Equal<Reply list>(
        [ Reply.one; bulk "2"; Reply.one; Reply.ok; Reply.zero; Reply.one
          Reply.Array [| Reply.Nil; Reply.Nil |]; Reply.one; Reply.zero; Reply.zero; Reply.zero; Reply.emptyArray
          Reply.Integer 2L; Reply.Integer 2L; Reply.zero ],
        replies
    )

    Assert.True(Db.tryFind "n"B (Keyspace.db 0 ks) |> ValueOption.isNone)

let private logged (cmds: string list list) =
    let _, evs, _ = session 1UL cmds
    evs |> List.map (fun e -> Event.toArgs e.Op |> Array.map Bytes.toString |> List.ofArray)

[<Fact>]
let ``writes are logged as HSET and HDEL of their effect`` () =
    let h = [ "HSET"; "h"; "n"; "5"; "f"; "1.5" ]
    Assert.Equal<string list list>([ [ "HSET"; "h"; "n"; "7" ] ], logged [ h; [ "HINCRBY"; "h"; "n"; "2" ] ])
    Assert.Equal<string list list>([ [ "HSET"; "h"; "f"; "2" ] ], logged [ h; [ "HINCRBYFLOAT"; "h"; "f"; "0.5" ] ])
    Assert.Equal<string list list>([ [ "HSET"; "h"; "q"; "v" ] ], logged [ h; [ "HSETNX"; "h"; "q"; "v" ] ])
    Assert.Equal<string list list>([ [ "HSET"; "h"; "a"; "1" ] ], logged [ h; [ "HMSET"; "h"; "a"; "1" ] ])
    Assert.Equal<string list list>([ [ "HDEL"; "h"; "n" ] ], logged [ h; [ "HDEL"; "h"; "n"; "zz"; "n" ] ])
    // Writes that change nothing log nothing.
    Assert.Empty(logged [ h; [ "HSETNX"; "h"; "n"; "v" ] ])
    Assert.Empty(logged [ h; [ "HDEL"; "h"; "zz" ] ])
    Assert.Empty(logged [ [ "HDEL"; "nokey"; "a" ] ])
    Assert.Empty(logged [ h; [ "HINCRBY"; "h"; "f"; "1" ] ])

[<Fact>]
let ``Redis's own spellings of hash writes read back`` () =
    let replay (cmds: string list list) =
        cmds
        |> List.map (fun c ->
            match Event.ofArgs 0 (c |> List.map Bytes.ofString |> Array.ofList) with
            | Ok e -> e
            | Error m -> failwith m)
        |> Evolve.replay (Keyspace.create 1)
        |> Keyspace.toMap

    let expected = Map.ofList [ 0, Map.ofList [ "h", (Plain.Hash(Map.ofList [ "a", "1"B; "n", "7"B; "q", "x"B ]), Expiry.none) ] ]

    Assert.Equal<Map<int, Map<string, Plain * int64>>>(
        expected,
        replay
            [ [ "HMSET"; "h"; "a"; "1"; "n"; "5" ]
              [ "HINCRBY"; "h"; "n"; "2" ]
              [ "HSETNX"; "h"; "q"; "x" ]
              [ "HSETNX"; "h"; "a"; "9" ]
              [ "HINCRBY"; "h"; "a"; "9223372036854775807" ]
              [ "HSET"; "h"; "z"; "1" ]
              [ "HDEL"; "h"; "z"; "nope" ] ]
    )

    Assert.True(Event.ofArgs 0 [| "HSET"B; "h"B; "a"B |] |> Result.isError)
    Assert.True(Event.ofArgs 0 [| "HDEL"B; "h"B |] |> Result.isError)

[<Fact>]
let ``HSCAN walks a large hash with a cursor and returns every field`` () =
    // Values over 64 bytes: Redis would keep this hash as a hashtable and scan it by cursor.
    for n in [ 20; 600; 3000 ] do
        let h = bigHash n 70
        let ks = Keyspace.withDb 0 (Db.set "h"B (Entry(Value.Hash h, Expiry.none)) Db.empty) (Keyspace.create 1)
        let seen = HashSet<string>()
        let mutable cursor = "0"
        let mutable steps = 0

        let scanOnce () =
            match Command.parse [| "HSCAN"B; "h"B; Bytes.ofString cursor; "COUNT"B; "50"B |] with
            | Ok(Request.Data cmd) ->
                match (Decide.decide (ctxAt 1UL) ks 0 cmd).Reply with
                | Reply.Array [| Reply.Bulk c; Reply.Array items |] ->
                    for pair in Array.chunkBySize 2 items do
                        match pair with
                        | [| Reply.Bulk f; Reply.Bulk v |] ->
                            Assert.Equal<byte[]>((Champ.tryFind f h).Value, v)
                            seen.Add(s f) |> ignore
                        | other -> failwithf "%A" other

                    cursor <- s c
                | other -> failwithf "%A" other
            | other -> failwithf "%A" other

        scanOnce ()
        steps <- 1

        while cursor <> "0" do
            scanOnce ()
            steps <- steps + 1

        Assert.Equal(n, seen.Count)
        Assert.True(steps >= n / 100, $"{steps} steps for {n} fields")

// ---------------------------------------------------------------------------------------------------------
// DEBUG DIGEST-VALUE, from redis-server 7.0.15 started with --enable-debug-command yes, after:
//   HSET d1 a 1
//   HSET d2 a 1 b 2 c hello
//   HSET d3 f1 v1 f2 v2 ; PEXPIREAT d3 4102444800000
//   HSET d4 "" ""
//   HSET d5 f <64 x>      (listpack)        HSET d6 f <65 x>   (hashtable)
//   HSET big f1 v1 ... f200 v200 (listpack)  HSET big2 f1 v1 ... f600 v600 (hashtable)
// The encodings digest alike: the digest depends on the fields and values only.

let private digestOf (pairs: (string * string) list) (expireAt: int64) =
    let h = Champ.ofSeq [ for f, v in pairs -> Bytes.ofString f, Bytes.ofString v ]
    Digest.value (ValueSome(Entry(Value.Hash h, expireAt)))

let private numbered (n: int) = [ for i in 1..n -> $"f{i}", $"v{i}" ]

[<Fact>]
let ``a hash digests as DEBUG DIGEST-VALUE does in Redis 7`` () =
    Assert.Equal("626a7b57a269f8f179a44902458ecb2f5920d35d", digestOf [ "a", "1" ] Expiry.none)
    Assert.Equal("517fc86d414ba885f05ac6ee59e0b7bf497021a2", digestOf [ "a", "1"; "b", "2"; "c", "hello" ] Expiry.none)
    Assert.Equal("e2f938f17b03de9927c661df64ce6df6034024f3", digestOf [ "f1", "v1"; "f2", "v2" ] 4102444800000L)
    Assert.Equal("058444ed2da4cc3f4acabd165ff3435028ac510b", digestOf [ "", "" ] Expiry.none)
    Assert.Equal("be528a839f1f38e7190d38c540087a66cfd4c046", digestOf [ "f", String('x', 64) ] Expiry.none)
    Assert.Equal("4167a732860530249276d3e47807adb1e9e613a5", digestOf [ "f", String('x', 65) ] Expiry.none)
    Assert.Equal("4ac8fd5d71a5e2047779312636972fa1e4486c44", digestOf (numbered 200) Expiry.none)
    Assert.Equal("bdf39d8554670e584b06a54941cce1e41c50dd55", digestOf (numbered 600) Expiry.none)

// ---------------------------------------------------------------------------------------------------------
// HINCRBYFLOAT in long double, as redis-server 7.0.15 on x86-64 answered (each from a fresh field unless
// a previous value is given).

let private e308 =
    "99999999999999999996685879655845645660560099847415567207797047994921734868838061872100126921888539320446747225054013223152134749593960583597420814430196418767959100019603190778663109604507106667939153395788938914560543563061268364901618630217086589253444881623791300855757318142424510452728255046343928578048"

let private e400 =
    "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880"

[<Fact>]
let ``HINCRBYFLOAT adds in long double and prints as Redis's %.17Lf`` () =
    let add (current: string) (by: string) =
        match LongDouble.addTexts (Bytes.ofString current) (Bytes.ofString by) with
        | Ok v -> Bytes.toString v
        | Error e -> e

    Assert.Equal("1000000000000000.0999755859375", add "0.1" "1e15")
    Assert.Equal("100000000000000000000", add "100000000000000000000" "0.1")
    Assert.Equal("3.3", add "1.1" "2.2")
    Assert.Equal("0.3", add "0.1" "0.2")
    Assert.Equal("3.33333333333333333", add "0" "3.3333333333333333333")
    Assert.Equal("0.00000000000000001", add "0" "1e-17")
    Assert.Equal("0", add "0" "5e-18")
    Assert.Equal("0", add "0" "-5e-18")
    Assert.Equal("0", add "0" "-1e-20")
    Assert.Equal("0.00000000000000002", add "0" "0.000000000000000015")
    Assert.Equal("12345678901234567889920", add "0" "12345678901234567890123")
    Assert.Equal("0.00000000015", add "0" "1.5e-10")
    Assert.Equal("0", add "0" "1e-4950")
    Assert.Equal("9223372036854775807.5", add "9223372036854775807" "0.5")
    Assert.Equal(e308, add "0" "1e308")
    Assert.Equal(
        "199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096",
        add e308 "1e308"
    )
    Assert.Equal(e400, add "0" "1e400")
    Assert.Equal(e400, add e400 "1e-400")
    let e4932 = add "0" "1e4932"
    Assert.Equal(4933, e4932.Length)
    Assert.StartsWith("1000000000000000000006018949387963891323837774254533114773785041352533019486608722407533327779", e4932)
    Assert.EndsWith("8418113791886622720", e4932)
    Assert.Equal("ERR value is not a valid float", add "0" "1e-5000")
    Assert.Equal("ERR value is not a valid float", add "1.19e4932" "0")
    Assert.Equal("ERR increment would produce NaN or Infinity", add "1.18e4932" "1e4930")
    Assert.Equal("ERR increment would produce NaN or Infinity", add "inf" "1")

[<Fact>]
let ``HINCRBYFLOAT reads numbers as strtold does`` () =
    let h = [ "HSET"; "h"; "big"; "1.19e4932"; "dot"; "5."; "lead"; ".5"; "plus"; "+1"; "exp"; "1e"; "nan"; "nan" ]
    let incr f by = lastReply [ h; [ "HINCRBYFLOAT"; "h"; f; by ] ]
    Assert.Equal(err "ERR hash value is not a float", incr "big" "0")
    Assert.Equal(err "ERR hash value is not a float", incr "exp" "0")
    Assert.Equal(err "ERR hash value is not a float", incr "nan" "0")
    Assert.Equal(bulk "6", incr "dot" "1")
    Assert.Equal(bulk "1.5", incr "lead" "1")
    Assert.Equal(bulk "2", incr "plus" "1")
    Assert.Equal(bulk e400, incr "new" "1e400")
    Assert.Equal(err "ERR value is not a valid float", incr "new" "1e-5000")
    Assert.Equal(err "ERR value is NaN or Infinity", incr "new" "-infinity")
