using Microsoft.Extensions.Options;
using Tou.Transport;

namespace Tou.Kestrel;

/// <summary>
/// Checks <see cref="TouTransportOptions"/> when the host starts (<c>ValidateOnStart</c>): a bad value fails the start
/// with an <see cref="OptionsValidationException"/> whose message names the setting by its configuration key
/// (e.g. <c>Tou:Protocol:HandshakeTimeout</c>) and says what is allowed.
/// </summary>
internal sealed class TouOptionsValidator : IValidateOptions<TouTransportOptions>
{
    public ValidateOptionsResult Validate(string? name, TouTransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            options.Protocol?.Validate();
        }
        catch (ArgumentException ex)
        {
            return Fail($"{nameof(TouTransportOptions.Protocol)}:", ex);
        }

        try
        {
            options.Validate();
        }
        catch (ArgumentException ex)
        {
            return Fail(string.Empty, ex);
        }

        return ValidateOptionsResult.Success;
    }

    private static ValidateOptionsResult Fail(string prefix, ArgumentException ex)
    {
        string rule = ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", string.Empty, StringComparison.Ordinal);
        return ValidateOptionsResult.Fail($"Invalid TOU setting {TouHostingExtensions.ConfigurationSectionName}:{prefix}{ex.ParamName}: {rule}");
    }
}
