namespace Aof.Core

open System
open System.Text

/// What a file in the AOF directory is for: the base (a snapshot), an incr (the writes after it), or history
/// (superseded by a rewrite and waiting to be deleted).
[<RequireQualifiedAccess>]
type AofFileType =
    | Base
    | History
    | Incr

type AofFileInfo =
    { Name: string
      Seq: int64
      Type: AofFileType }

/// The manifest of a Redis 7 multi-part AOF: which files make up the dataset, in what order.
type Manifest =
    { Base: AofFileInfo option
      History: AofFileInfo list
      /// Ascending by sequence number: the order they are replayed in.
      Incrs: AofFileInfo list }

module Manifest =
    let empty =
        { Base = None
          History = []
          Incrs = [] }

    let fileName (appendFilename: string) = appendFilename + ".manifest"
    let baseFileName (appendFilename: string) (seq: int64) = sprintf "%s.%d.base.aof" appendFilename seq
    let incrFileName (appendFilename: string) (seq: int64) = sprintf "%s.%d.incr.aof" appendFilename seq

    /// Redis writes a new manifest under this name, then renames it over the real one.
    let tempFileName (appendFilename: string) = "temp-" + fileName appendFilename

    /// Base first, then the incrs in sequence order: the files whose replay is the dataset.
    let liveFiles (m: Manifest) : AofFileInfo list = Option.toList m.Base @ m.Incrs

    let lastIncr (m: Manifest) : AofFileInfo option = List.tryLast m.Incrs

    let private typeChar (t: AofFileType) =
        match t with
        | AofFileType.Base -> 'b'
        | AofFileType.History -> 'h'
        | AofFileType.Incr -> 'i'

    /// Whether a name must be quoted to survive Redis's word splitting (Redis's own test: spaces, quotes,
    /// backslashes, control and non-printable bytes).
    let private needsQuoting (name: string) =
        name |> Seq.exists (fun c -> c <= ' ' || c > '~' || c = '"' || c = '\\')

    let private quote (name: string) = Bytes.repr false name

    let private line (f: AofFileInfo) =
        let name = if needsQuoting f.Name then quote f.Name else f.Name
        sprintf "file %s seq %d type %c\n" name f.Seq (typeChar f.Type)

    /// The manifest's text as Redis writes it: the base, then history, then the incrs, one line each.
    let format (m: Manifest) : string =
        let sb = StringBuilder()

        for f in Option.toList m.Base @ m.History @ m.Incrs do
            sb.Append(line f) |> ignore

        sb.ToString()

    /// Redis reads manifest lines into a 1 KiB buffer: a longer line is an error, not a long name.
    let maxLineLength = 1024

    /// Reads a manifest as Redis 7 does, with its error texts. Unknown keys on a line are ignored (Redis
    /// keeps them for forward compatibility); `#` lines are comments.
    let parse (bytes: byte[]) : Result<Manifest, string> =
        let text = Encoding.Latin1.GetString bytes
        let mutable pos = 0
        let mutable result = Ok empty
        let mutable lines = 0
        let mutable maxSeq = 0L

        while pos < text.Length && Result.isOk result do
            let nl = text.IndexOf('\n', pos)
            let raw = if nl < 0 then text.Substring pos else text.Substring(pos, nl - pos)
            pos <- if nl < 0 then text.Length else nl + 1
            // Redis counts every line read, comments too: only a file with no line at all is "empty"; one
            // of comments alone is an empty manifest and the server starts fresh.
            lines <- lines + 1

            if raw.StartsWith "#" then
                ()
            elif nl < 0 || raw.Length + 1 > maxLineLength then
                result <- Error "The AOF manifest file contains too long line"
            else
                let trimmed = raw.Trim([| ' '; '\t'; '\r'; '\n' |])

                let words =
                    if trimmed.Length = 0 then null
                    else RespReader.SplitArgs(ReadOnlySpan(Encoding.Latin1.GetBytes trimmed))

                if isNull words || words.Length < 6 || words.Length % 2 = 1 then
                    result <- Error "Invalid AOF manifest file format"
                else
                    let mutable name = None
                    let mutable seq = 0L
                    let mutable typ = None

                    for i in 0..2 .. words.Length - 1 do
                        let key = Bytes.toLower words[i]
                        let value = Encoding.Latin1.GetString words[i + 1]

                        match key with
                        | "file" -> name <- Some value
                        | "seq" ->
                            // Redis reads it with atoll: leading digits, anything else is 0 (and so missing).
                            let digits = value |> Seq.takeWhile Char.IsDigit |> Seq.toArray |> String
                            seq <- if digits.Length > 0 && digits.Length < 19 then Int64.Parse digits else 0L
                        | "type" -> typ <- if value.Length > 0 then Some value[0] else Some '\000'
                        | _ -> ()

                    match name, typ with
                    | Some n, _ when n.Contains '/' -> result <- Error "File can't be a path, just a filename"
                    | Some n, Some t when seq > 0L && n.Length > 0 ->
                        let info kind = { Name = n; Seq = seq; Type = kind }

                        result <-
                            result
                            |> Result.bind (fun m ->
                                match t with
                                | 'b' when m.Base.IsSome -> Error "Found duplicate base file information"
                                | 'b' -> Ok { m with Base = Some(info AofFileType.Base) }
                                | 'h' -> Ok { m with History = m.History @ [ info AofFileType.History ] }
                                | 'i' when seq <= maxSeq -> Error "Found a non-monotonic sequence number"
                                | 'i' ->
                                    maxSeq <- seq
                                    Ok { m with Incrs = m.Incrs @ [ info AofFileType.Incr ] }
                                | _ -> Error "Unknown AOF file type")
                    | _ -> result <- Error "Invalid AOF manifest file format"

        match result with
        | Ok _ when lines = 0 -> Error "Found an empty AOF manifest"
        | r -> r
