package intel

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// loadKEV reads the CISA Known Exploited Vulnerabilities catalog (JSON, or
// the CSV with the same columns). Every entry is a CVE indicator with
// confidence 100 (exploitation is known), labelled with vendor and product.
func (l *loader) loadKEV(data []byte) {
	type vuln struct {
		CVE         string `json:"cveID"`
		Vendor      string `json:"vendorProject"`
		Product     string `json:"product"`
		Name        string `json:"vulnerabilityName"`
		DateAdded   string `json:"dateAdded"`
		Ransomware  string `json:"knownRansomwareCampaignUse"`
		Description string `json:"shortDescription"`
	}
	var vulns []vuln
	if data[0] == '{' {
		var doc struct {
			Vulnerabilities []vuln `json:"vulnerabilities"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			l.jsonError(data, err)
			return
		}
		vulns = doc.Vulnerabilities
	} else {
		rows, err := readCSVRecords(data)
		if err != nil {
			l.fail(0, "", err)
			return
		}
		if len(rows) == 0 {
			return
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		get := func(r []string, k string) string {
			if i, ok := col[k]; ok && i < len(r) {
				return r[i]
			}
			return ""
		}
		for _, r := range rows[1:] {
			vulns = append(vulns, vuln{get(r, "cveID"), get(r, "vendorProject"), get(r, "product"), get(r, "vulnerabilityName"), get(r, "dateAdded"), get(r, "knownRansomwareCampaignUse"), get(r, "shortDescription")})
		}
	}
	for i, v := range vulns {
		ind := Indicator{
			Type: TypeCVE, Value: v.CVE, Source: "cisa-kev", ID: v.CVE, Confidence: 100, TLP: "clear",
			Labels:      []string{"known-exploited", "vendor:" + v.Vendor, "product:" + v.Product},
			Description: v.Name,
		}
		if strings.EqualFold(v.Ransomware, "known") {
			ind.Labels = append(ind.Labels, "ransomware")
		}
		if t, err := time.Parse("2006-01-02", v.DateAdded); err == nil {
			ind.ValidFrom = t
		}
		l.add(0, "vulnerabilities["+strconv.Itoa(i)+"]", ind)
	}
}

// loadWarninglist reads a MISP warninglist (list.json).
func (l *loader) loadWarninglist(data []byte) {
	var doc struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Type        string   `json:"type"`
		List        []string `json:"list"`
		Attributes  []string `json:"matching_attributes"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		l.jsonError(data, err)
		return
	}
	w := Warninglist{Name: doc.Name, Description: doc.Description, Type: doc.Type, Entries: doc.List, Path: l.path, Attributes: doc.Attributes}
	for _, err := range l.b.AddWarninglist(w) {
		l.fail(0, "", err)
	}
	if l.stats.Errors == 0 {
		l.stats.WarninglistEntries = len(doc.List)
	}
}

// loadJSONList reads a JSON array of objects, each naming one indicator in
// a field such as ip_address, domain, url or sha256_hash (abuse.ch's Feodo
// Tracker, URLhaus and ThreatFox exports look like this).
func (l *loader) loadJSONList(data []byte) {
	var arr []map[string]any
	if err := json.Unmarshal(data, &arr); err != nil {
		l.jsonError(data, err)
		return
	}
	source := l.source()
	keys := []struct {
		k string
		t Type
	}{
		{"ip_address", TypeIPv4}, {"ip", TypeIPv4}, {"dst_ip", TypeIPv4}, {"domain", TypeDomain}, {"hostname", TypeDomain},
		{"url", TypeURL}, {"sha256_hash", TypeSHA256}, {"sha256", TypeSHA256}, {"md5_hash", TypeMD5}, {"md5", TypeMD5},
		{"sha1_hash", TypeSHA1}, {"sha1", TypeSHA1}, {"ioc", TypeUnknown}, {"indicator", TypeUnknown}, {"value", TypeUnknown},
	}
	for i, o := range arr {
		where := "[" + strconv.Itoa(i) + "]"
		ind := Indicator{Source: source, ID: l.path + where, Confidence: DefaultConfidence}
		for _, k := range []string{"malware", "malware_printable", "threat", "threat_type", "status"} {
			if s, ok := o[k].(string); ok && s != "" {
				ind.Labels = append(ind.Labels, k+":"+s)
			}
		}
		if s, ok := o["first_seen"].(string); ok {
			if t, err := time.Parse("2006-01-02 15:04:05", s); err == nil {
				ind.ValidFrom = t
			}
		}
		if c, ok := o["confidence_level"].(float64); ok {
			ind.Confidence = int(c)
		}
		found := false
		for _, k := range keys {
			s, ok := o[k.k].(string)
			if !ok || s == "" {
				continue
			}
			found = true
			l.addValue(0, where+"."+k.k, s, k.t, ind)
			break
		}
		if !found {
			l.fail(0, where, fmt.Errorf("object has none of the fields ip_address, domain, url, sha256_hash, md5_hash, ioc"))
		}
	}
}
