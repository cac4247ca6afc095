using Aof.Core;

namespace Aof.Server;

static class Framing
{
    /// <summary>
    /// Adds every complete command at the start of <paramref name="input"/> to <paramref name="batch"/>;
    /// <paramref name="consumed"/> says how many bytes they took. Stops at an incomplete command
    /// (<see cref="ReadStatus.Incomplete"/>) or at a protocol error, whose message goes to <paramref name="error"/>.
    /// </summary>
    public static ReadStatus Frame(ReadOnlySpan<byte> input, RespLimits limits, List<byte[][]> batch, out int consumed, out string? error)
    {
        consumed = 0;
        error = null;
        while (consumed < input.Length)
        {
            int used = 0;
            byte[][] args = [];
            string message = "";
            var status = RespReader.TryRead(input[consumed..], limits, ref used, ref args, ref message);
            switch (status)
            {
                case ReadStatus.Command:
                    batch.Add(args);
                    consumed += used;
                    break;
                case ReadStatus.Skipped when used > 0:
                    consumed += used;
                    break;
                case ReadStatus.ProtocolError:
                    error = message;
                    return status;
                default:
                    return ReadStatus.Incomplete;
            }
        }
        return ReadStatus.Incomplete;
    }
}
