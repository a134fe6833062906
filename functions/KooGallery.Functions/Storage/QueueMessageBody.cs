using System.Text;

namespace KooGallery.Functions.Storage;

/// <summary>
/// The JSON text of a queue message, whether the trigger hands the body over decoded or still Base64 (the
/// encoding the app and the Functions default use), so a change in that hand-over cannot send every
/// message to poison. Text that is neither is returned as it is, for the caller's parser to reject.
/// </summary>
public static class QueueMessageBody
{
    public static string JsonText(BinaryData body)
    {
        var text = body.ToString().Trim();
        if (text.StartsWith('{') || text.StartsWith('['))
        {
            return text;
        }

        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(text));
        }
        catch (FormatException)
        {
            return text;
        }
    }
}
