//! Inputs that once made an import parser fail, each kept as a named test
//! with the exact minimal input that the properties found.

use prospector::import::{ImportFormat, parse};

use crate::corpus::defaults;

fn lines(text: &str) -> Vec<usize> {
    let (rows, _) = parse(text, ImportFormat::Csv, &defaults()).expect("a CSV file");
    rows.iter().map(|r| r.line).collect()
}

/// After a CRLF the CSV reader's line count lagged by one: a Windows file's
/// rows were each reported on the line before (the first on the header's),
/// and a file mixing CRLF and LF gave two rows the same line number.
#[test]
fn csv_rows_after_a_crlf_keep_their_own_line_numbers() {
    assert_eq!(
        lines("domain,name\r\na.lu,A\r\nb.lu,B\r\nc.lu,C\r\n"),
        vec![2, 3, 4]
    );
    assert_eq!(lines("domain,name\na.lu,A\r\nb.lu,B\nc.lu,C\n"), vec![2, 3, 4]);
    assert_eq!(lines("domain,name\r\n\r\na.lu,A\r\n\r\nb.lu,B\r\n"), vec![3, 5]);
    assert_eq!(
        lines("domain,name\ra.lu,A\rb.lu,B"),
        vec![2, 3],
        "a lone CR ends a line too"
    );
    assert_eq!(
        lines(
            "Website,Name,E-mail,City,Tags,Latitude,Longitude\ne\r\nxample.lu,Boulangerie Example,info@example.lu,Luxembourg,bakery;new,49.61,6.13\n,Garage Central,,Esch,,,\nbad domain,X,,,,,\nshop.lu,Shop,not-an-email,,,,\nshort.lu,Short\ngeo.lu,Geo,,,,91,6\n\"quoted.lu\",\"Name, with comma\",\"a@quoted.lu\",\"Multi\nline city\",,,\n,,,,,,\nhttps://www.Café.lu/menu,Café,,,\"a|b|c\",,\n"
        ),
        vec![2, 3, 4, 5, 6, 7, 8, 9, 12]
    );
}
