//! Units in scenario files: durations as Mesos writes them (`"15s"`, `"10mins"`),
//! memory and disk sizes (`"512MB"`, `"8GB"`), and fractional cpus.

/// Parses a duration with a unit into milliseconds: `ms`, `s`/`secs`,
/// `m`/`mins`, `h`/`hrs`, `d`/`days` (decimals allowed: `"1.5s"`).
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let (number, unit) = split_number(text)?;
    let scale = match unit {
        "ms" => 1.0,
        "s" | "sec" | "secs" => 1_000.0,
        "m" | "min" | "mins" => 60_000.0,
        "h" | "hr" | "hrs" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        _ => {
            return Err(format!(
            "invalid duration \"{text}\": unknown unit \"{unit}\" (use ms, s, mins, hrs or days)"
        ))
        }
    };
    Ok((number * scale).round() as u64)
}

/// Parses a size into MiB: `MB`/`MiB`, `GB`/`GiB`, `TB`/`TiB` (Mesos counts
/// memory and disk in MB of 2^20 bytes).
pub fn parse_mem_mb(text: &str) -> Result<u64, String> {
    let (number, unit) = split_number(text)?;
    let scale = match unit {
        "MB" | "MiB" => 1.0,
        "GB" | "GiB" => 1_024.0,
        "TB" | "TiB" => 1_048_576.0,
        _ => {
            return Err(format!(
                "invalid size \"{text}\": unknown unit \"{unit}\" (use MB, GB or TB)"
            ))
        }
    };
    Ok((number * scale).round() as u64)
}

/// Cpus as a number (`0.5`) into thousandths.
pub fn parse_cpus(cpus: f64) -> Result<u64, String> {
    if !cpus.is_finite() || cpus < 0.0 {
        return Err(format!(
            "invalid cpus {cpus}: must be a non-negative number"
        ));
    }
    Ok((cpus * 1_000.0).round() as u64)
}

fn split_number(text: &str) -> Result<(f64, &str), String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("\"{text}\" needs a unit"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" does not start with a number"))?;
    Ok((number, unit.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_mesos_flags() {
        assert_eq!(parse_duration_ms("15s"), Ok(15_000));
        assert_eq!(parse_duration_ms("10mins"), Ok(600_000));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1_500));
        assert!(parse_duration_ms("15")
            .unwrap_err()
            .contains("needs a unit"));
        assert!(parse_duration_ms("15 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration_ms("s").is_err());
    }

    #[test]
    fn sizes_are_in_mib() {
        assert_eq!(parse_mem_mb("512MB"), Ok(512));
        assert_eq!(parse_mem_mb("8GB"), Ok(8_192));
        assert!(parse_mem_mb("8 bananas").is_err());
        assert_eq!(parse_cpus(0.5), Ok(500));
        assert!(parse_cpus(-1.0).is_err());
    }
}
